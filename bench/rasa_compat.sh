#!/usr/bin/env bash
# Does Rasa itself accept the project's files? Builds a Python 3.10 venv with rasa==3.6.21 (TensorFlow
# included, ~2.7 GB; not run in CI) and runs, on the repository's own files:
#   rasa data validate --domain domain.yml --data tests/stories nlu --config config.yml
#   rasa train nlu --nlu nlu --config config.yml
# Both must exit 0 (warnings about intents and responses no story uses are expected). Output is printed
# with the machine's paths replaced by <repo>, <venv> and <work>; the raw logs stay in the work directory.
#
# Usage: bench/rasa_compat.sh            (from anywhere; the venv is reused when it already has Rasa 3.6.21)
# Environment: RASA_VENV (default ${TMPDIR:-/tmp}/rasa36), PYTHON310 (a Python 3.10 interpreter; default:
#              pyenv's newest 3.10, else python3.10 on PATH), RASA_WORK (default: a new temporary directory).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RASA_VENV:-${TMPDIR:-/tmp}/rasa36}"
WORK="${RASA_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/rasa-compat.XXXXXX")}"
RASA_VERSION="3.6.21"
export RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONWARNINGS="ignore::DeprecationWarning"
mkdir -p "$WORK"

find_python310() {
    if [[ -n "${PYTHON310:-}" ]]; then echo "$PYTHON310"; return; fi
    if command -v pyenv >/dev/null 2>&1; then
        local candidate
        candidate="$(ls -d "$(pyenv root)"/versions/3.10.*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)"
        if [[ -n "$candidate" ]]; then echo "$candidate"; return; fi
    fi
    command -v python3.10 || { echo "no Python 3.10 found: set PYTHON310" >&2; exit 2; }
}

# Paths of this machine out, colour codes out, and the libraries' deprecation chatter (a warning line
# and the source line Python prints under it) out; Rasa's own UserWarnings stay.
clean() {
    sed -e "s#${VENV}#<venv>#g" -e "s#${REPO}#<repo>#g" -e "s#${WORK}#<work>#g" \
        -e 's/\x1b\[[0-9;]*m//g' |
    awk '
        /DeprecationWarning|MovedIn20Warning|declare_namespace|pkg_resources|WARNING: Location/ { skip = 1; next }
        skip && /^[ \t]/ { next }
        { skip = 0 }
        /Processed story blocks|More info at https:\/\/rasa.com\/docs|^[ \t]*$/ { next }
        { print }
    '
}

installed="$("$VENV/bin/rasa" --version 2>/dev/null || true)"
if ! grep -q "Rasa Version *: *$RASA_VERSION" <<<"$installed"; then
    PY="$(find_python310)"
    echo "== building $VENV with rasa==$RASA_VERSION ($("$PY" --version))" | clean
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "rasa==$RASA_VERSION"
fi
"$VENV/bin/rasa" --version 2>/dev/null | grep -E "^(Rasa Version|Rasa SDK Version|Python Version)" | clean || true

cd "$WORK"  # Rasa writes its cache (.rasa/) and models into the working directory, not into the checkout
status=0

echo
echo "== rasa data validate --domain domain.yml --data tests/stories nlu --config config.yml"
set +e
"$VENV/bin/rasa" data validate --domain "$REPO/domain.yml" --data "$REPO/tests/stories" "$REPO/nlu" \
    --config "$REPO/config.yml" >"$WORK/validate.log" 2>&1
rc=$?
set -e
clean <"$WORK/validate.log"
echo "exit code: $rc"
[[ $rc -eq 0 ]] || status=1

echo
echo "== rasa train nlu --nlu nlu --config config.yml"
set +e
"$VENV/bin/rasa" train nlu --nlu "$REPO/nlu" --config "$REPO/config.yml" --out "$WORK/models" \
    >"$WORK/train.log" 2>&1
rc=$?
set -e
clean <"$WORK/train.log" | tail -n 20
echo "exit code: $rc"
[[ $rc -eq 0 ]] || status=1

echo
if [[ $status -eq 0 ]]; then echo "Rasa $RASA_VERSION accepts the project's files."; else echo "FAILED"; fi
exit $status
