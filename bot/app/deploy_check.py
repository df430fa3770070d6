"""``bot deploy check``: what must never reach patients, refused before it does (docs/deploy.md).

Each check returns the problems it finds as one line each (never a secret's value). ``bot deploy check``
prints them and exits 1; ``bot run`` with ``BOT_ENV=production`` runs the same checks before it starts
any worker (:func:`refuse_to_start`); every worker's start-up keeps the few that hold in any deployed
configuration (:func:`startup_problems`, called by :func:`bot.app.access.check_deployment`).

Static checks read the environment and endpoints.yml; database checks connect with ``DATABASE_URL``
(the assistant's own role) and change nothing; ``--online`` also fetches ``BOT_PUBLIC_URL`` over TLS,
verifying its certificate, as Twilio would.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot import settings
from bot.errors import BotError, ConfigError

log = logging.getLogger("bot.app.deploy_check")
DEVELOPER_PATHS = "/model/parse and /webhooks/rest/webhook"
MIN_TOKEN = 32


# -- the environment ------------------------------------------------------------------------------------


def startup_problems() -> list[str]:
    """What stops any deployed worker at start-up (not only ``BOT_ENV=production``)."""
    if settings.twilio_auth_token() and not settings.public_url():
        return ["BOT_PUBLIC_URL is not set: Twilio signs the public URL of the webhook, and without it the "
                "signature would be checked against the Host header a caller chooses (set it to the https "
                "URL Twilio calls, e.g. https://bot.clinica.mx)"]
    return []


def key_problems() -> list[str]:
    from bot.compliance.keyring import Keyring, decode_key

    problems = []
    data_key = settings.data_key()
    if not data_key:
        problems.append("BOT_DATA_KEY is not set: patient data would be encrypted under a key generated "
                        "next to it (openssl rand -base64 32)")
    else:
        try:
            Keyring.parse(data_key)
        except ConfigError as e:
            problems.append(str(e))
    audit = settings.audit_signing_key()
    if not audit:
        problems.append("BOT_AUDIT_SIGNING_KEY is not set: the audit chain would be keyed by the data key "
                        "and its checkpoints unsigned by a key of their own (openssl rand -base64 32)")
    else:
        try:
            decode_key(audit, settings.AUDIT_SIGNING_KEY_ENV)
        except ConfigError as e:
            problems.append(str(e))
    return problems


def public_url_problems() -> list[str]:
    url = settings.public_url()
    if not url:
        return ["BOT_PUBLIC_URL is not set: Twilio's signatures cannot be checked against the URL it calls"]
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return [f"TLS is missing in front of Twilio's webhook: BOT_PUBLIC_URL must be an https:// URL "
                f"(it is {parts.scheme or 'no'}://…); patients' messages would cross the internet in clear"]
    return []


def twilio_problems() -> list[str]:
    problems = []
    if not settings.twilio_auth_token() or not settings.twilio_account_sid():
        problems.append("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set: without them the WhatsApp "
                        "webhooks answer 503")
    if not settings.twilio_whatsapp_from() and not settings.twilio_messaging_service_sid():
        problems.append("TWILIO_WHATSAPP_FROM or TWILIO_MESSAGING_SERVICE_SID must be set: replies have no "
                        "sender")
    return problems


def developer_problems() -> list[str]:
    from bot.app.access import OPEN, DeveloperAccess

    access = DeveloperAccess.from_env()
    if access.rule == OPEN:
        return [f"developer endpoints are open to anyone ({DEVELOPER_PATHS}, BOT_ENV={access.mode}): set "
                "BOT_ENV=production (and BOT_REST_TOKEN only if they must be reachable)"]
    if access.token and len(access.token) < MIN_TOKEN:
        return [f"BOT_REST_TOKEN is shorter than {MIN_TOKEN} characters (openssl rand -hex 32)"]
    return []


def token_problems() -> list[str]:
    """The other shared secrets and trust settings: as strong as BOT_REST_TOKEN, no proxy trusting all."""
    import ipaddress

    problems = []
    metrics = settings.metrics_token()
    if metrics and len(metrics) < MIN_TOKEN:
        problems.append(f"BOT_METRICS_TOKEN is shorter than {MIN_TOKEN} characters (openssl rand -hex 32)")
    if any(ipaddress.ip_network(p, strict=False).prefixlen == 0 for p in settings.trusted_proxies()):
        problems.append("BOT_TRUSTED_PROXIES trusts every address (a /0 network): anyone could forge "
                        "X-Forwarded-For; list only the reverse proxy's addresses")
    return problems


def _is_sqlite(url: str | None) -> bool:
    return url is None or settings.normalise_database_url(url).startswith("sqlite")


def store_problems(workers: int, endpoints: Mapping[str, Any]) -> list[str]:
    problems = []
    tracker = endpoints.get("tracker_store") or {"type": "sql"}
    lock = endpoints.get("lock_store") or {"type": "memory"}
    tracker_type = str(tracker.get("type", "")).lower()
    lock_type = str(lock.get("type", "")).lower()
    if tracker_type == "memory":
        problems.append("tracker_store type memory: conversations would be lost at every restart and not "
                        "shared between workers (use redis, see endpoints.production.yml)")
    if workers > 1:
        database = settings.configured_database_url()
        if _is_sqlite(database):
            problems.append(f"SQLite under {workers} workers: set DATABASE_URL to PostgreSQL "
                            "(or run one worker)")
        elif tracker_type == "sql" and tracker.get("url") and _is_sqlite(str(tracker["url"])):
            problems.append(f"tracker_store on SQLite under {workers} workers: use redis or PostgreSQL")
        if lock_type == "memory":
            problems.append(f"lock_store type memory under {workers} workers: each worker would lock "
                            "conversations alone (use redis)")
    return problems


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redis_problems(endpoints: Mapping[str, Any]) -> list[str]:
    urls = {settings.redis_url()}
    for section in ("tracker_store", "lock_store"):
        config = endpoints.get(section) or {}
        if str(config.get("type", "")).lower() == "redis":
            urls.add(config.get("url") or settings.redis_url())
    problems = []
    for url in sorted(u for u in urls if u):
        parts = urlsplit(url)
        if parts.scheme == "unix" or not parts.hostname:
            continue
        if not parts.password and not _loopback(parts.hostname):
            problems.append(f"Redis at {parts.hostname}:{parts.port or 6379} has no password and is not on "
                            "a loopback address: anyone on that network could read conversations' state "
                            "(set requirepass and put it in the URL, or bind Redis to 127.0.0.1)")
    return problems


def ledger_problems() -> list[str]:
    from bot.compliance.shred_ledger import writable

    ledger = settings.shred_ledger()
    if not ledger:
        return ["BOT_SHRED_LEDGER is not set: a restored backup could bring back patients whose data keys "
                "were destroyed after it was taken (point it at a file next to the backups)"]
    why = writable(Path(ledger))
    return [f"BOT_SHRED_LEDGER cannot be appended to: {why}"] if why else []


def static_problems(workers: int) -> list[str]:
    """Every problem found without connecting anywhere."""
    from bot.stores.endpoints import load_endpoints

    problems = (key_problems() + public_url_problems() + twilio_problems() + developer_problems()
                + token_problems())
    try:
        endpoints = load_endpoints()
    except BotError as e:
        return [*problems, f"endpoints: {e}"]
    return problems + store_problems(workers, endpoints) + redis_problems(endpoints) + ledger_problems()


# -- the database ---------------------------------------------------------------------------------------


def migration_problems(engine: Any) -> list[str]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from bot import db

    script = ScriptDirectory.from_config(db.alembic_config(engine))  # type: ignore[arg-type]
    wanted = set(script.get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current != wanted:
        missing = ", ".join(sorted(wanted - current)) or "?"
        return [f"migrations not applied (database at {', '.join(sorted(current)) or 'nothing'}, code needs "
                f"{missing}): run bot db upgrade"]
    return []


def grant_problems(engine: Any) -> list[str]:
    """The assistant's role may read nothing of the clinical schema (DESIGN.md, promise 4)."""
    from sqlalchemy import text

    from bot.compliance.clinical import DEFAULT_SCHEMA

    if engine.dialect.name != "postgresql":
        return []
    problems = []
    with engine.connect() as conn:
        role, superuser, bypass = conn.execute(text(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
        if superuser or bypass:
            kind = "superuser" if superuser else "BYPASSRLS role"
            problems.append(f"DATABASE_URL connects as {role}, a {kind}: the assistant could read the "
                            "clinical tables (connect as the assistant's role, see python -m "
                            "bot.compliance.roles)")
        tables = [row[0] for row in conn.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm') AND ("
            "has_table_privilege(c.oid, 'SELECT') OR has_table_privilege(c.oid, 'INSERT') OR "
            "has_table_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE')) "
            "ORDER BY 1"), {"schema": DEFAULT_SCHEMA})]
    if tables and not superuser:
        problems.append(f"the assistant's database role {role} has grants on clinical tables "
                        f"({', '.join(tables)}): revoke them (python -m bot.compliance.roles --apply)")
    return problems


def database_problems() -> list[str]:
    from bot import db

    try:
        engine = db.make_engine()  # no migration: this only looks
    except BotError as e:
        return [str(e)]
    try:
        return migration_problems(engine) + grant_problems(engine)
    finally:
        engine.dispose()


# -- over the network ------------------------------------------------------------------------------------


def online_problems() -> list[str]:
    """``BOT_PUBLIC_URL`` answers over TLS with a certificate this machine trusts, as Twilio needs."""
    import httpx

    url = settings.public_url()
    if not url or not url.startswith("https://"):
        return []  # reported by public_url_problems
    verify: Any = settings.ca_bundle() or True
    try:
        response = httpx.get(url.rstrip("/") + "/health", timeout=10, verify=verify)
    except httpx.HTTPError as e:
        return [f"{url} does not answer over TLS: {type(e).__name__}: {e}"]
    if response.status_code != 200:
        return [f"{url}/health answers {response.status_code} through the proxy"]
    return []


def problems(workers: int, *, database: bool = True, online: bool = False) -> list[str]:
    found = static_problems(workers)
    if database:
        found += database_problems()
    if online:
        found += online_problems()
    return found


def refuse_to_start(workers: int) -> None:
    """``bot run`` in production: a :class:`ConfigError` with every problem, one per line."""
    found = problems(workers)
    if found:
        raise ConfigError("BOT_ENV=production and bot deploy check finds:\n  " + "\n  ".join(found))
    log.warning("deploy.check.passed workers=%d", workers)


def check_command(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    workers = args.workers or settings.workers()
    found = problems(workers, database=not args.no_database, online=args.online)
    for problem in found:
        out(f"problem: {problem}")
    if found:
        out(f"deploy check: {len(found)} problem(s); this configuration must not reach patients")
        return 1
    out(f"deploy check: ok ({workers} worker(s){', online' if args.online else ''})")
    return 0


def tracker_table(engine: Any) -> None:
    """The SQL tracker store's table (it creates its own, outside Alembic), created now by the owner when
    endpoints.yml keeps conversations in this database."""
    from bot.stores.endpoints import load_endpoints
    from bot.stores.sql import metadata as tracker_metadata

    tracker = load_endpoints().get("tracker_store") or {}
    if str(tracker.get("type", "")).lower() == "sql":
        tracker_metadata.create_all(engine, checkfirst=True)


def db_upgrade_command(args: argparse.Namespace) -> int:
    """``bot db upgrade``: apply every migration as the schema owner (``BOT_ADMIN_DATABASE_URL``, else
    ``DATABASE_URL``), then re-apply the assistant's and the portal's grants for the roles that exist —
    a deploy step, run before the new code serves (the assistant's own role cannot create tables)."""
    from sqlalchemy import text

    from bot import db
    from bot.compliance import config as compliance_config
    from bot.compliance.roles import apply_grants

    url = settings.admin_database_url() or settings.configured_database_url()
    engine = db.make_engine(url)
    try:
        db.migrate(engine)
        roles: list[str] = []
        if engine.dialect.name == "postgresql":
            tracker_table(engine)  # the assistant's role may not create it at its start
            cfg = compliance_config.load()
            with engine.begin() as conn:
                roles = apply_grants(conn, cfg.assistant_role, cfg.portal_role)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version"))
            heads = sorted(str(row[0]) for row in rows)
    finally:
        engine.dispose()
    granted = f"; grants re-applied for {', '.join(roles)}" if roles else ""
    print(f"database at {', '.join(heads)}{granted}")
    return 0
