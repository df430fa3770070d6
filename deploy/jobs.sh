#!/bin/sh
# The scheduler's work (systemd timers, docs/deploy.md): `jobs.sh minutely` or `jobs.sh daily`.
# Each command prints counts only (no names, no numbers). Exit status 2 from the reminders means "not
# configured" (no approved template yet): not a failure of the timer.
set -u
BOT="${BOT_BIN:-/srv/clinic-bot/.venv/bin/bot}"
status=0

run() {
    "$BOT" "$@"
    code=$?
    if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then
        echo "jobs.failed command=$1 exit=$code" >&2
        status=1
    fi
}

case "${1:-}" in
    minutely)
        run reminders run
        run reminders follow-ups
        run twilio retry
        ;;
    daily)
        run retention run
        run portal purge
        run audit checkpoint
        ;;
    *)
        echo "usage: $0 minutely|daily" >&2
        exit 64
        ;;
esac
exit "$status"
