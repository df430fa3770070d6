#!/usr/bin/env bash
# The production recipe, brought up on this machine on loopback only (docs/deploy.md, "Try it locally"):
#
#   Caddy (TLS, a self-signed certificate, deploy/caddy/routes.caddy)
#     -> bot run --workers 2 (BOT_ENV=production: refuses to start while `bot deploy check` finds a problem)
#       -> PostgreSQL (a throw-away cluster; the assistant connects as bot_app, migrations ran as the owner)
#       -> Redis (a throw-away server with a password)
#   and a signed WhatsApp conversation through it, replies going to a local fake of Twilio's API.
#
# Usage: deploy/local_e2e.sh            (exit 0: all went through; 77: a tool is missing, nothing ran)
# Needs: caddy, openssl, PostgreSQL server binaries (initdb, pg_ctl; BOT_PG_BIN or /usr/lib/postgresql/*/bin),
# redis-server, and the project's .venv (or BOT_PYTHON). Everything lives in a temporary directory that is
# removed at the end, processes included. Nothing listens on anything but 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${BOT_PYTHON:-$ROOT/.venv/bin/python}"
BOT=("$PY" -m bot.app.cli)
T0=$(date +%s%N)

say() { local t=$(( ($(date +%s%N) - T0) / 100000000 )); printf '[%3d.%ds] %s\n' $((t / 10)) $((t % 10)) "$*"; }
skip() { echo "SKIP: $*"; exit 77; }

PG_BIN="${BOT_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
command -v caddy >/dev/null || skip "caddy is not installed (apt-get install caddy)"
command -v openssl >/dev/null || skip "openssl is not installed"
command -v redis-server >/dev/null || skip "redis-server is not installed (apt-get install redis-server)"
[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] || skip "PostgreSQL server binaries not found (apt-get install postgresql)"
[ -x "$PY" ] || skip "no Python at $PY (make install, or set BOT_PYTHON)"
MODELS="${BOT_MODELS_DIR:-$ROOT/models}"
ls "$MODELS"/*.tar.gz >/dev/null 2>&1 || skip "no trained model in $MODELS (bot train)"

WORK="$(mktemp -d /tmp/clinic-e2e.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
PG_AS=()
if [ "$(id -u)" = 0 ]; then  # initdb refuses to run as root: the cluster belongs to postgres
    id postgres >/dev/null 2>&1 || skip "running as root and there is no postgres user for initdb"
    PG_AS=(runuser -u postgres --)
fi

cleanup() {
    local code=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -f "$WORK/pg/postmaster.pid" ]; then "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true; fi
    if [ "$code" != 0 ] && [ "$code" != 77 ]; then
        echo "--- last lines of the logs ($WORK kept) ---"
        tail -n 25 "$WORK"/*.log 2>/dev/null || true
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for SECONDS CMD...: retry CMD until it succeeds
    local until=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$until" ] || return 1
        sleep 0.2
    done
}

PG_PORT=$(free_port); REDIS_PORT=$(free_port); APP_PORT=$(free_port); HTTPS_PORT=$(free_port); FAKE_PORT=$(free_port)

# -- 1. TLS: a self-signed certificate for 127.0.0.1 -------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
say "TLS: self-signed certificate for 127.0.0.1"

# -- 2. PostgreSQL: a throw-away cluster, the database, the owner and the assistant's role -----------------
mkdir -p "$WORK/pg"
touch "$WORK/postgres.log"
[ ${#PG_AS[@]} = 0 ] || chown postgres "$WORK/pg" "$WORK/postgres.log"
"${PG_AS[@]}" "$PG_BIN/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 --no-sync >"$WORK/initdb.log" 2>&1
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/postgres.log" -w \
    -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
OWNER_PASSWORD=$(openssl rand -hex 12); APP_PASSWORD=$(openssl rand -hex 12)
ADMIN_URL="postgresql://clinic_owner:$OWNER_PASSWORD@127.0.0.1:$PG_PORT/clinic"
# as docs/deploy.md step 4: the schema owner (no superuser), the assistant's and the portal's roles
"$PY" - "$PG_PORT" "$OWNER_PASSWORD" "$APP_PASSWORD" <<'EOF'
import sys, psycopg
port, owner, app = sys.argv[1:]
with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
    # BYPASSRLS: its backups must hold the clinical rows that row-level security hides from everyone else
    conn.execute(f"CREATE ROLE clinic_owner LOGIN BYPASSRLS PASSWORD '{owner}'")
    for role in ("bot_app", "bot_portal"):
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{app}' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS")
    conn.execute("CREATE DATABASE clinic OWNER clinic_owner")
EOF
say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"

# -- 3. Redis with a password --------------------------------------------------------------------------
REDIS_PASSWORD=$(openssl rand -hex 16)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --requirepass "$REDIS_PASSWORD" --save "" --appendonly no \
    --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
wait_for 10 "$PY" -c "import redis; redis.Redis(port=$REDIS_PORT, password='$REDIS_PASSWORD').ping()"
say "Redis on 127.0.0.1:$REDIS_PORT (password set)"

# -- 4. The environment (deploy/clinic-bot.env.example, filled in) ---------------------------------------
mkdir -p "$WORK/var/backups"
export BOT_ENV=production BOT_WORKERS=2 BOT_PROJECT_DIR="$ROOT" BOT_MODELS_DIR="$MODELS" BOT_VAR_DIR="$WORK/var"
export BOT_ENDPOINTS="$ROOT/endpoints.production.yml"
export DATABASE_URL="postgresql://bot_app:$APP_PASSWORD@127.0.0.1:$PG_PORT/clinic"
export BOT_PORTAL_DATABASE_URL="postgresql://bot_portal:$APP_PASSWORD@127.0.0.1:$PG_PORT/clinic"
export REDIS_URL="redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0"
export BOT_DATA_KEY="$(openssl rand -base64 32)" BOT_AUDIT_SIGNING_KEY="$(openssl rand -base64 32)"
export TWILIO_ACCOUNT_SID="AC$(openssl rand -hex 16)" TWILIO_AUTH_TOKEN="$(openssl rand -hex 16)"
export TWILIO_WHATSAPP_FROM="whatsapp:+14155238886" TWILIO_API_BASE_URL="http://127.0.0.1:$FAKE_PORT"
export BOT_PUBLIC_URL="https://127.0.0.1:$HTTPS_PORT" BOT_TRUSTED_PROXIES=127.0.0.1
export BOT_BACKUP_DIR="$WORK/var/backups" BOT_SHRED_LEDGER="$WORK/var/backups/shred-ledger.jsonl"
export BOT_METRICS_TOKEN="$(openssl rand -hex 32)" PROMETHEUS_MULTIPROC_DIR="$WORK/metrics"
export BOT_REMINDERS=off BOT_LOG_FORMAT=json REQUESTS_CA_BUNDLE="$WORK/tls.crt"
unset BOT_REST_TOKEN BOT_AGENT_TOKEN BOT_ADMIN_DATABASE_URL TWILIO_MESSAGING_SERVICE_SID 2>/dev/null || true

# -- 5. The deploy step: migrations as the owner, then the roles' grants ----------------------------------
BOT_ADMIN_DATABASE_URL="$ADMIN_URL" "${BOT[@]}" db upgrade | sed 's/^/       /'
say "migrations applied as the owner clinic_owner (bot db upgrade), grants of bot_app and bot_portal"

# -- 6. bot deploy check, then bot run with two workers ----------------------------------------------
"${BOT[@]}" deploy check | sed 's/^/       /'
"${BOT[@]}" run --host 127.0.0.1 --port "$APP_PORT" >"$WORK/bot.log" 2>&1 &
BOT_PID=$!
PIDS+=($BOT_PID)
wait_for 90 "$PY" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$APP_PORT/ready').status_code != 200)" \
    || { echo "bot run did not become ready"; exit 1; }
say "bot run: 2 workers ready on 127.0.0.1:$APP_PORT"

# -- 7. Caddy: TLS in front, the repo's routes ---------------------------------------------------------
cat >"$WORK/Caddyfile" <<EOF
{
	admin off
	auto_https disable_redirects
	http_port $(free_port)
	storage file_system $WORK/caddy
}
https://127.0.0.1:$HTTPS_PORT {
	tls $WORK/tls.crt $WORK/tls.key
	import $ROOT/deploy/caddy/routes.caddy
}
EOF
BOT_UPSTREAM="127.0.0.1:$APP_PORT" XDG_DATA_HOME="$WORK/caddy" XDG_CONFIG_HOME="$WORK/caddy" \
    caddy run --config "$WORK/Caddyfile" --adapter caddyfile >"$WORK/caddy.log" 2>&1 &
PIDS+=($!)
wait_for 15 "$PY" -c "import httpx,sys; sys.exit(httpx.get('$BOT_PUBLIC_URL/health', verify='$WORK/tls.crt').status_code != 200)" \
    || { echo "caddy did not come up"; exit 1; }
say "Caddy $(caddy version | awk '{print $1}'): https://127.0.0.1:$HTTPS_PORT -> 127.0.0.1:$APP_PORT"

"${BOT[@]}" deploy check --online | sed 's/^/       /'

# -- 8. A signed WhatsApp conversation, end to end ---------------------------------------------------
"$PY" "$ROOT/deploy/e2e_conversation.py" --public-url "$BOT_PUBLIC_URL" --ca "$WORK/tls.crt" \
    --fake-port "$FAKE_PORT" --auth-token "$TWILIO_AUTH_TOKEN" --account "$TWILIO_ACCOUNT_SID" \
    --sender "$TWILIO_WHATSAPP_FROM" --metrics-url "http://127.0.0.1:$APP_PORT/metrics" \
    --metrics-token "$BOT_METRICS_TOKEN" | sed 's/^/       /'
[ "${PIPESTATUS[0]}" = 0 ] || exit 1
say "conversation: signed webhooks through TLS, replies through the Twilio API"

# -- 9. An encrypted backup, restored with the service stopped; the logs: JSON, no patient's number -------
BOT_ADMIN_DATABASE_URL="$ADMIN_URL" "${BOT[@]}" backup | sed 's/^/       /'
kill "$BOT_PID"; wait "$BOT_PID" 2>/dev/null || true
ARCHIVE=$(ls "$BOT_BACKUP_DIR"/clinic-*.dump.enc | tail -1)
BOT_ADMIN_DATABASE_URL="$ADMIN_URL" "${BOT[@]}" restore "$ARCHIVE" --yes | sed 's/^/       /'
"${BOT[@]}" deploy check | sed 's/^/       /'
say "backup written and restored (the service stopped); the restored database passes the check"
"$PY" - "$WORK/bot.log" <<'EOF'
import json, sys
lines = [line for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
events = [json.loads(line)["event"] for line in lines]  # every line is one JSON object
for secret in ("5512345678", "Paciente Prueba", "agendar"):  # number, WhatsApp profile name, a body
    assert not any(secret in line for line in lines), f"a log line carries {secret!r}"
print(f"       {len(lines)} JSON log lines, none with the patient's number, name or words; events: "
      + ", ".join(sorted(set(events))[:8]) + ("…" if len(set(events)) > 8 else ""))
EOF
say "done: the recipe works end to end"
