"""The ``bot`` command: Rasa's verbs (train, test, run, shell, parse) plus the clinic's own.

Each sub-command names the ``module:function`` that implements it; the module is imported only when the
command runs, so ``bot --help`` stays instant and a command never pays for another's imports.
Handlers take the parsed ``argparse.Namespace`` and return an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from bot.errors import BotError

Handler = Callable[[argparse.Namespace], int]


def _handler(target: str) -> Handler:
    module, _, func = target.partition(":")

    def run(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(module), func)(args))

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description="Clinic WhatsApp assistant (Rasa-style).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train the NLU model into models/ (skipped when inputs are unchanged)")
    p.add_argument("--force", action="store_true", help="retrain even if the fingerprint is unchanged")
    p.add_argument("--nlu", default=None, help="training data file or directory (default: nlu/)")
    p.add_argument("--config", default=None, help="pipeline config (default: config.yml)")
    p.add_argument("--out", default=None, help="models directory (default: models/)")
    p.set_defaults(func=_handler("bot.nlu.commands:train_command"))

    p = sub.add_parser("parse", help="parse one message and print Rasa's parse result as JSON")
    p.add_argument("text")
    p.add_argument("--reference-time", default=None, help="ISO 8601 reference time for dates")
    p.add_argument("--model", default=None, help="model archive (default: newest in models/)")
    p.set_defaults(func=_handler("bot.nlu.commands:parse_command"))

    test = sub.add_parser("test", help="evaluate the NLU model or run conversation test stories")
    tsub = test.add_subparsers(dest="test_command", required=True, metavar="WHAT")
    p = tsub.add_parser("nlu", help="intent report, errors and confusion matrix (Rasa's result files)")
    p.add_argument("--nlu", default=None, help="test data file (default: tests/nlu/nlu_test.yml)")
    p.add_argument("--out", default="results", help="output directory (default: results/)")
    p.add_argument("--cross-validation", action="store_true", help="cross-validate on the training data")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--model", default=None)
    p.set_defaults(func=_handler("bot.nlu.commands:test_nlu_command"))
    p = tsub.add_parser("stories", help="run conversation test stories (tests/stories/)")
    p.add_argument("--stories", default=None, help="file or directory (default: tests/stories/)")
    p.add_argument("--out", default="results", help="failed stories are written here")
    p.set_defaults(func=_handler("bot.testing.stories:test_stories_command"))

    data = sub.add_parser("data", help="check the project's files (Rasa's `rasa data validate`)")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="WHAT")
    p = dsub.add_parser("validate", help="domain, stories, NLU data, config and flow checked together")
    p.add_argument("--domain", default=None, help="domain file (default: domain.yml)")
    p.add_argument("--data", nargs="+", default=None, help="stories and NLU (default: nlu tests/stories)")
    p.add_argument("--config", default=None, help="pipeline config (default: config.yml)")
    p.add_argument("--max-history", type=int, default=None, help="turns considered for story conflicts")
    p.add_argument("--fail-on-warnings", action="store_true", help="exit 1 on warnings too, as Rasa's flag")
    p.set_defaults(func=_handler("bot.testing.validate:validate_command"))

    p = sub.add_parser("run", help="serve the HTTP API (parse, REST and Twilio webhooks)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5005)
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: $BOT_WORKERS or 1)")
    p.set_defaults(func=_handler("bot.app.server:run_command"))

    deploy = sub.add_parser("deploy", help="production: check a deployment before patients reach it")
    dsub = deploy.add_subparsers(dest="deploy_command", required=True, metavar="WHAT")
    p = dsub.add_parser("check", help="refuse what must never reach patients (one line per problem, exit 1)")
    p.add_argument("--workers", type=int, default=None, help="the workers bot run will start ($BOT_WORKERS)")
    p.add_argument("--online", action="store_true", help="also fetch BOT_PUBLIC_URL over TLS")
    p.add_argument("--no-database", action="store_true", help="skip the checks that connect to the database")
    p.set_defaults(func=_handler("bot.app.deploy_check:check_command"))

    dbp = sub.add_parser("db", help="the database schema (Alembic)")
    dbsub = dbp.add_subparsers(dest="db_command", required=True, metavar="WHAT")
    p = dbsub.add_parser("upgrade", help="apply every migration as the schema owner, then re-apply grants")
    p.set_defaults(func=_handler("bot.app.deploy_check:db_upgrade_command"))

    p = sub.add_parser("backup", help="an encrypted pg_dump of the database (docs/deploy.md)")
    p.add_argument("--out", default=None, help="directory (default: $BOT_BACKUP_DIR or var/backups)")
    p.set_defaults(func=_handler("bot.compliance.backup:backup_command"))
    p = sub.add_parser("restore", help="restore an encrypted backup, then replay the shredding ledger")
    p.add_argument("archive")
    p.add_argument("--yes", action="store_true", help="yes, replace the whole database")
    p.set_defaults(func=_handler("bot.compliance.backup:restore_command"))

    p = sub.add_parser("shell", help="chat with the assistant in the terminal")
    p.add_argument("--sender", default="console-user")
    p.set_defaults(func=_handler("bot.app.shell:shell_command"))

    guard = sub.add_parser("guard", help="the disclosure gate")
    gsub = guard.add_subparsers(dest="guard_command", required=True, metavar="WHAT")
    p = gsub.add_parser("check", help="check one message per stdin line; one JSON verdict per line")
    p.add_argument("--channel", default="whatsapp")
    p.set_defaults(func=_handler("bot.guard.commands:check_command"))

    audit = sub.add_parser("audit", help="the hash-chained audit log")
    asub = audit.add_subparsers(dest="audit_command", required=True, metavar="WHAT")
    p = asub.add_parser("verify", help="walk the chain and name the first broken entry")
    p.add_argument("--checkpoints", action="append", metavar="FILE", help="exported checkpoints to check too")
    p.set_defaults(func=_handler("bot.compliance.commands:audit_verify_command"))
    p = asub.add_parser("checkpoint", help="write a signed checkpoint of the chain head")
    p.add_argument("--export", metavar="FILE", help="then write every checkpoint as JSON lines (- = stdout)")
    p.set_defaults(func=_handler("bot.compliance.commands:audit_checkpoint_command"))

    consent = sub.add_parser("consent", help="consent evidence")
    csub = consent.add_subparsers(dest="consent_command", required=True, metavar="WHAT")
    p = csub.add_parser("show", help="show a patient's consent records")
    p.add_argument("patient", help="patient phone number or patient reference")
    p.set_defaults(func=_handler("bot.compliance.commands:consent_show_command"))

    retention = sub.add_parser("retention", help="retention rules")
    rsub = retention.add_subparsers(dest="retention_command", required=True, metavar="WHAT")
    p = rsub.add_parser("run", help="delete what has expired, auditing each deletion")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=_handler("bot.app.commands:retention_run_command"))

    arco = sub.add_parser("arco", help="ARCO requests (access, rectification, cancellation, opposition)")
    arsub = arco.add_subparsers(dest="arco_command", required=True, metavar="WHAT")
    p = arsub.add_parser("list", help="list ARCO requests")
    p.add_argument("--status", default=None)
    p.set_defaults(func=_handler("bot.compliance.commands:arco_list_command"))
    p = arsub.add_parser("close", help="close an ARCO request")
    p.add_argument("request_id")
    p.add_argument("--resolution", default="resolved")
    p.set_defaults(func=_handler("bot.compliance.commands:arco_close_command"))

    twilio = sub.add_parser("twilio", help="WhatsApp through Twilio: delivery states and retries")
    twsub = twilio.add_subparsers(dest="twilio_command", required=True, metavar="WHAT")
    p = twsub.add_parser("deliveries", help="a patient's outbound messages: state, attempts, codes")
    p.add_argument("patient", help="the patient's number as WhatsApp sends it (whatsapp:+521…) or E.164")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=_handler("bot.channels.twilio.commands:deliveries_command"))
    p = twsub.add_parser("retry", help="send the failed messages whose retry is due now")
    p.set_defaults(func=_handler("bot.channels.twilio.commands:retry_command"))

    reminders = sub.add_parser("reminders", help="appointment reminders over WhatsApp (an approved template)")
    remsub = reminders.add_subparsers(dest="reminders_command", required=True, metavar="WHAT")
    p = remsub.add_parser("run", help="send the reminders due now; prints counts (no names or numbers)")
    p.add_argument("--dry-run", action="store_true", help="count what would be sent; claim and send nothing")
    p.add_argument("--now", default=None, help="run as of this ISO 8601 time (no offset: the clinic's time)")
    p.set_defaults(func=_handler("bot.app.reminders:run_command"))
    p = remsub.add_parser("follow-ups",
                          help="send the post-visit follow-ups and no-show rebooking offers due now")
    p.add_argument("--dry-run", action="store_true", help="count what would be sent; claim and send nothing")
    p.add_argument("--now", default=None, help="run as of this ISO 8601 time (no offset: the clinic's time)")
    p.set_defaults(func=_handler("bot.app.followups:run_command"))

    p = sub.add_parser("report", help="the practice's KPI funnel (counts only: no names, no numbers)")
    p.add_argument("--since", default=None, help="first day, YYYY-MM-DD in the clinic's calendar")
    p.add_argument("--until", default=None, help="last day (inclusive), YYYY-MM-DD")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--png", default=None, metavar="FILE", help="also draw the funnel and weekly trend")
    p.set_defaults(func=_handler("bot.report.commands:report_command"))

    appts = sub.add_parser("appointments", help="appointments, staff side")
    apsub = appts.add_subparsers(dest="appointments_command", required=True, metavar="WHAT")
    p = apsub.add_parser("mark", help="record that a booked appointment was attended or not (audited)")
    p.add_argument("appointment_id")
    p.add_argument("outcome", choices=("attended", "no-show"))
    p.set_defaults(func=_handler("bot.report.commands:mark_command"))

    agents = sub.add_parser("agents", help="the agents' inbox: one bearer token per member of staff")
    agsub = agents.add_subparsers(dest="agents_command", required=True, metavar="WHAT")
    p = agsub.add_parser("add", help="issue a token for an agent: printed once, only its hash is kept")
    p.add_argument("agent", help="the agent id (1-64 letters, digits, _ . @ -), audited as staff:<id>")
    p.add_argument("--replace", action="store_true", help="issue a new token to an agent who has one")
    p.set_defaults(func=_handler("bot.inbox.auth:add_command"))
    p = agsub.add_parser("list", help="the agents with a live token (ids only)")
    p.set_defaults(func=_handler("bot.inbox.auth:list_command"))
    p = agsub.add_parser("revoke", help="end an agent's token now")
    p.add_argument("agent")
    p.set_defaults(func=_handler("bot.inbox.auth:revoke_command"))

    staff = sub.add_parser("staff", help="staff accounts of the inbox web app (/inbox)")
    stsub = staff.add_subparsers(dest="staff_command", required=True, metavar="WHAT")
    p = stsub.add_parser("add", help="add a staff account (password prompted, or $BOT_STAFF_PASSWORD/stdin)")
    p.add_argument("staff_id", help="the staff id (1-64 letters, digits, _ . @ -), audited as staff:<id>")
    p.add_argument("--name", required=True, help="the display name shown in the inbox")
    p.add_argument("--role", choices=["agent", "physician", "admin"], default="agent")
    p.set_defaults(func=_handler("bot.inbox.staff:add_command"))
    p = stsub.add_parser("disable", help="disable an account now (its sessions end)")
    p.add_argument("staff_id")
    p.set_defaults(func=_handler("bot.inbox.staff:disable_command"))
    p = stsub.add_parser("reset-password", help="set a new password (unlocks the account, ends its sessions)")
    p.add_argument("staff_id")
    p.set_defaults(func=_handler("bot.inbox.staff:reset_password_command"))
    p = stsub.add_parser("list", help="the active accounts: id, role, display name")
    p.set_defaults(func=_handler("bot.inbox.staff:list_command"))

    portal = sub.add_parser("portal", help="the patient portal: release results to a patient, withdraw them")
    posub = portal.add_subparsers(dest="portal_command", required=True, metavar="WHAT")
    p = posub.add_parser("release", help="release a result or note to a patient's portal (physician/admin)")
    p.add_argument("patient", help="the patient's phone number (E.164) or patient reference")
    p.add_argument("--by", required=True, help="the releasing staff account (role physician or admin)")
    p.add_argument("--title", required=True,
                   help="what the patient sees in the list, e.g. 'Biometría hemática'")
    p.add_argument("--text", default=None, help="the result or note itself")
    p.add_argument("--file", default=None, help="read the text from this UTF-8 file instead")
    p.add_argument("--kind", default="result", choices=["result", "note", "document"])
    p.set_defaults(func=_handler("bot.portal.commands:release_command"))
    p = posub.add_parser("withdraw", help="withdraw a released document (the patient no longer sees it)")
    p.add_argument("document_id", type=int)
    p.add_argument("--by", required=True, help="the staff account (role physician or admin)")
    p.set_defaults(func=_handler("bot.portal.commands:withdraw_command"))
    p = posub.add_parser("purge", help="delete spent one-time links, ended sessions, past lockouts (counts)")
    p.add_argument("--keep-hours", type=int, default=24)
    p.set_defaults(func=_handler("bot.portal.commands:purge_command"))

    flow = sub.add_parser("flow", help="the conversation flow")
    fsub = flow.add_subparsers(dest="flow_command", required=True, metavar="WHAT")
    p = fsub.add_parser("diagram", help="write the flow as Mermaid, SVG and PNG (SVG/PNG need Graphviz)")
    p.add_argument("--out", default="docs/flow", help="output path without extension")
    p.set_defaults(func=_handler("bot.app.commands:diagram_command"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
