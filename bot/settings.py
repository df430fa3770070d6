"""Where the project's files live, and every environment variable the engine reads.

The project directory (holding domain.yml, config.yml, endpoints.yml, clinic.yml, nlu/, flows/ ...) is
the current directory unless ``BOT_PROJECT_DIR`` says otherwise. Nothing here does I/O at import time.

This is the one module that reads ``os.environ``: every other module asks one of the functions below.
They read the environment on every call (nothing is cached, so a test's ``monkeypatch.setenv`` applies at
once); those taking ``env`` read that mapping instead when one is given (tests, injected configurations).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bot.errors import ConfigError

ENDPOINTS_ENV = "BOT_ENDPOINTS"
DATA_KEY_ENV = "BOT_DATA_KEY"
REF_KEY_ENV = "BOT_REF_KEY"
AUDIT_SIGNING_KEY_ENV = "BOT_AUDIT_SIGNING_KEY"
AUDIT_VERIFY_KEY_ENV = "BOT_AUDIT_VERIFY_KEY"
AUDIT_RETIRED_KEYS_ENV = "BOT_AUDIT_RETIRED_KEYS"
AUDIT_CHECKPOINT_FILE_ENV = "BOT_AUDIT_CHECKPOINT_FILE"
AUDIT_CHECKPOINT_EVERY_ENV = "BOT_AUDIT_CHECKPOINT_EVERY"
AGENT_TOKEN_ENV = "BOT_AGENT_TOKEN"
STAFF_PASSWORD_ENV = "BOT_STAFF_PASSWORD"

DEFAULT_AUDIT_CHECKPOINT_EVERY = 1000
DEFAULT_TRACKER_CACHE = 1024
_OFF = frozenset(("off", "0", "false", "no"))


def environ() -> Mapping[str, str]:
    """The process environment as a whole: for ``${VAR}`` interpolation in endpoints.yml and for
    components that take an injectable ``env`` mapping."""
    return os.environ


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def project_dir() -> Path:
    """The directory holding the clinic's configuration files."""
    env = os.environ.get("BOT_PROJECT_DIR")
    return Path(env).resolve() if env else Path.cwd()


def var_dir() -> Path:
    """Writable state for the embedded default (SQLite files, media, the generated data key); created on
    demand, owner-only (0700). An existing one of ours that others can enter is tightened to 0700, unless
    it is a shared directory (sticky bit, like /tmp) or not ours — then it is left alone."""
    path = var_path()
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        st = path.stat()
        if st.st_mode & 0o077 and not st.st_mode & 0o1000 and st.st_uid == os.getuid():
            path.chmod(0o700)
    return path


def var_path() -> Path:
    """Where :func:`var_dir` is (``BOT_VAR_DIR`` or ``var/`` in the project), without creating it."""
    env = os.environ.get("BOT_VAR_DIR")
    return Path(env).resolve() if env else project_dir() / "var"


def models_dir() -> Path:
    env = os.environ.get("BOT_MODELS_DIR")
    return Path(env).resolve() if env else project_dir() / "models"


def database_url() -> str:
    """``DATABASE_URL`` or the embedded SQLite database under ``var/``."""
    url = configured_database_url()
    if url:
        return normalise_database_url(url)
    return f"sqlite:///{var_dir() / 'bot.db'}"


def configured_database_url(env: Mapping[str, str] | None = None) -> str | None:
    """``DATABASE_URL`` as set (not normalised; None when unset or empty)."""
    return _env(env).get("DATABASE_URL") or None


def normalise_database_url(url: str) -> str:
    """Accept the common ``postgres://`` / ``postgresql://`` spellings and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def redis_url() -> str | None:
    return os.environ.get("REDIS_URL") or None


EMBEDDED = "embedded"
DEPLOYED = "deployed"
DEVELOPMENT = "development"


def deployment_mode() -> str:
    """Which rules apply: ``embedded``, ``development`` or ``deployed``.

    ``BOT_ENV`` decides when set (``production``/``deployed`` → deployed, ``development`` → development,
    ``embedded``); otherwise the deployment is the embedded default only while it uses the SQLite file under
    ``var/`` and no Twilio credentials: anything that talks to real patients is deployed. Deployed means the
    developer endpoints (REST channel, ``/model/parse``) need ``BOT_REST_TOKEN`` and every secret must come
    from the environment. See docs/security.md.
    """
    env = (os.environ.get("BOT_ENV") or "").strip().lower()
    if env in ("production", "deployed", "prod"):
        return DEPLOYED
    if env in ("development", "dev", "test"):
        return DEVELOPMENT
    if env == EMBEDDED:
        return EMBEDDED
    if env:
        raise ConfigError(f"BOT_ENV={env!r} is not one of production, development, embedded")
    if configured_database_url() or twilio_auth_token():
        return DEPLOYED
    return EMBEDDED


def rest_token() -> str | None:
    """``BOT_REST_TOKEN``: the bearer token for the developer endpoints (None when unset)."""
    return os.environ.get("BOT_REST_TOKEN") or None


# -- files and identities -----------------------------------------------------------------------------


def endpoints_file(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_ENDPOINTS``: the endpoints file to read instead of the project's endpoints.yml."""
    return _env(env).get(ENDPOINTS_ENV) or None


def staff_id(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_STAFF_ID``: who runs a staff command (the audit log's actor); None: the login name."""
    return _env(env).get("BOT_STAFF_ID") or None


def staff_password(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_STAFF_PASSWORD``: the password ``bot staff add`` uses instead of prompting (scripts, tests)."""
    return _env(env).get(STAFF_PASSWORD_ENV) or None


def story_time(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_STORY_TIME``: the ISO time ``bot test stories`` pretends it is."""
    return _env(env).get("BOT_STORY_TIME") or None


# -- keys ------------------------------------------------------------------------------------------------


def data_key(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_DATA_KEY``: the master key(s), as set (see :mod:`bot.compliance.keyring`)."""
    return _env(env).get(DATA_KEY_ENV)


def ref_key(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_REF_KEY``: the key of patient references, as set."""
    return _env(env).get(REF_KEY_ENV)


def keyring_inputs(env: Mapping[str, str] | None = None) -> tuple[object, ...]:
    """Everything :meth:`bot.compliance.keyring.Keyring.from_env` depends on (a cache key: a keyring built
    for one of these still holds while it is unchanged)."""
    values = _env(env)
    key = values.get(DATA_KEY_ENV)
    where = values.get("BOT_VAR_DIR") or values.get("BOT_PROJECT_DIR") or ("" if key else os.getcwd())
    return (key, values.get(REF_KEY_ENV), values.get("DATABASE_URL"), where, values.get("BOT_ENV"),
            bool(values.get("TWILIO_AUTH_TOKEN")))


def audit_signing_key(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_AUDIT_SIGNING_KEY``: base64 of the audit log's Ed25519 seed, as set."""
    return _env(env).get(AUDIT_SIGNING_KEY_ENV)


def audit_verify_key(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_AUDIT_VERIFY_KEY``: base64 of the audit log's public key, as set."""
    return _env(env).get(AUDIT_VERIFY_KEY_ENV)


def audit_retired_keys(env: Mapping[str, str] | None = None) -> list[str]:
    """``BOT_AUDIT_RETIRED_KEYS``: the seeds used before a rotation (comma-separated; blanks skipped)."""
    raw = _env(env).get(AUDIT_RETIRED_KEYS_ENV, "")
    return [value for value in raw.split(",") if value.strip()]


def audit_checkpoint_file(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_AUDIT_CHECKPOINT_FILE``: where each new audit checkpoint is also appended."""
    return _env(env).get(AUDIT_CHECKPOINT_FILE_ENV) or None


def audit_checkpoint_every(env: Mapping[str, str] | None = None) -> int:
    """``BOT_AUDIT_CHECKPOINT_EVERY``: entries between signed checkpoints (default 1000; empty: 0, off)."""
    return int(_env(env).get(AUDIT_CHECKPOINT_EVERY_ENV, str(DEFAULT_AUDIT_CHECKPOINT_EVERY)) or 0)


def agent_shared_token(env: Mapping[str, str] | None = None) -> str:
    """``BOT_AGENT_TOKEN``: the deprecated shared inbox token ("" when unset)."""
    return _env(env).get(AGENT_TOKEN_ENV, "")


# -- processes ---------------------------------------------------------------------------------------------


def tracker_cache_size(env: Mapping[str, str] | None = None) -> int:
    """``BOT_TRACKER_CACHE``: how many decoded conversations a process keeps (default 1024; 0: none)."""
    raw = _env(env).get("BOT_TRACKER_CACHE", str(DEFAULT_TRACKER_CACHE))
    if not raw.strip().isdigit():
        raise ConfigError("BOT_TRACKER_CACHE must be a whole number of conversations (0 turns it off)")
    return int(raw)


def gil_switch_ms(env: Mapping[str, str] | None = None) -> float:
    """``BOT_GIL_SWITCH_MS``: the interpreter's thread switch interval in milliseconds (default 1)."""
    raw = _env(env).get("BOT_GIL_SWITCH_MS", "1")
    try:
        ms = float(raw)
    except ValueError:
        ms = float("nan")
    if not 0.1 <= ms <= 100:
        raise ConfigError(f"BOT_GIL_SWITCH_MS must be a number of milliseconds from 0.1 to 100, got {raw!r}")
    return ms


def reuse_port(env: Mapping[str, str] | None = None) -> bool:
    """``BOT_REUSE_PORT``: each worker its own ``SO_REUSEPORT`` socket (``1``, the default) or not (``0``)."""
    wanted = _env(env).get("BOT_REUSE_PORT", "1").strip()
    if wanted not in ("0", "1"):
        raise ConfigError(f"BOT_REUSE_PORT must be 1 (each worker its own socket) or 0, got {wanted!r}")
    return wanted == "1"


def reminders_off(env: Mapping[str, str] | None = None) -> bool:
    """``BOT_REMINDERS`` is ``off`` (or ``0``, ``false``, ``no``)."""
    return _env(env).get("BOT_REMINDERS", "").strip().lower() in _OFF


def reminders_interval(env: Mapping[str, str] | None = None) -> float:
    """``BOT_REMINDERS_INTERVAL``: seconds between reminder runs (default 60)."""
    raw = _env(env).get("BOT_REMINDERS_INTERVAL", "").strip() or "60"
    try:
        interval = float(raw)
    except ValueError:
        interval = float("nan")
    if not 0 < interval <= 86_400:
        raise ConfigError(f"BOT_REMINDERS_INTERVAL: seconds between reminder runs (0 < s <= 86400), "
                          f"got {raw!r}")
    return interval


# -- the WhatsApp channel (Twilio) ------------------------------------------------------------------------


def twilio_auth_token(env: Mapping[str, str] | None = None) -> str | None:
    """``TWILIO_AUTH_TOKEN``: signs Twilio's webhooks and authenticates our API calls."""
    return _env(env).get("TWILIO_AUTH_TOKEN")


def twilio_account_sid(env: Mapping[str, str] | None = None) -> str | None:
    """``TWILIO_ACCOUNT_SID``."""
    return _env(env).get("TWILIO_ACCOUNT_SID")


def twilio_api_base_url(env: Mapping[str, str] | None = None) -> str | None:
    """``TWILIO_API_BASE_URL``: another Twilio API host (tests, a regional edge); None: Twilio's."""
    return _env(env).get("TWILIO_API_BASE_URL") or None


def twilio_messaging_service_sid(env: Mapping[str, str] | None = None) -> str | None:
    """``TWILIO_MESSAGING_SERVICE_SID``: send through a messaging service (preferred over a number)."""
    return _env(env).get("TWILIO_MESSAGING_SERVICE_SID")


def twilio_whatsapp_from(env: Mapping[str, str] | None = None) -> str | None:
    """``TWILIO_WHATSAPP_FROM``: the WhatsApp number messages are sent from."""
    return _env(env).get("TWILIO_WHATSAPP_FROM")


def public_url(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_PUBLIC_URL``: the https URL Twilio calls (it signs that URL)."""
    return _env(env).get("BOT_PUBLIC_URL")


def twilio_order_timeout(env: Mapping[str, str] | None = None) -> float:
    """``BOT_TWILIO_ORDER_TIMEOUT``: seconds a message waits for an earlier one of its sender (default 30)."""
    return float(_env(env).get("BOT_TWILIO_ORDER_TIMEOUT", "30"))


def twilio_worker_threads(env: Mapping[str, str] | None = None) -> int:
    """``BOT_TWILIO_WORKER_THREADS``: dialogue threads per process (default 2)."""
    return int(_env(env).get("BOT_TWILIO_WORKER_THREADS", "2"))


def ca_bundle(env: Mapping[str, str] | None = None) -> str | None:
    """``REQUESTS_CA_BUNDLE`` or else ``CURL_CA_BUNDLE``: the CA certificates to trust (file or directory)."""
    values = _env(env)
    return values.get("REQUESTS_CA_BUNDLE") or values.get("CURL_CA_BUNDLE") or None


# -- production (docs/deploy.md) -----------------------------------------------------------------------


def production(env: Mapping[str, str] | None = None) -> bool:
    """``BOT_ENV=production`` said explicitly: ``bot run`` refuses to start while ``bot deploy check``
    finds a problem (:mod:`bot.app.deploy_check`)."""
    return (_env(env).get("BOT_ENV") or "").strip().lower() in ("production", "prod", "deployed")


def workers(env: Mapping[str, str] | None = None) -> int:
    """``BOT_WORKERS``: worker processes of ``bot run`` when ``--workers`` is not given (default 1)."""
    raw = (_env(env).get("BOT_WORKERS") or "1").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise ConfigError(f"BOT_WORKERS must be a whole number of processes from 1 to 64, got {raw!r}")
    return int(raw)


def admin_database_url(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_ADMIN_DATABASE_URL``: the schema owner's connection, for ``bot db upgrade``, ``bot backup``
    and ``bot restore`` (the assistant's own role may not create tables nor read the clinical schema);
    None: ``DATABASE_URL``."""
    return _env(env).get("BOT_ADMIN_DATABASE_URL") or None


def metrics_token(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_METRICS_TOKEN``: the bearer token Prometheus sends to ``/metrics`` (unset: no ``/metrics``)."""
    return _env(env).get("BOT_METRICS_TOKEN") or None


METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_dir(env: Mapping[str, str] | None = None) -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's own variable): where the workers of one
    ``bot run`` keep their counters so that any of them can report the sum."""
    return _env(env).get(METRICS_DIR_ENV) or None


def export_metrics_dir(path: str) -> None:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` for this process and the workers it starts (before either imports
    prometheus-client)."""
    os.environ[METRICS_DIR_ENV] = path


def log_format(env: Mapping[str, str] | None = None) -> str:
    """``BOT_LOG_FORMAT``: ``json`` (one object per line, for journald and log shippers) or ``text``;
    default ``json`` with ``BOT_ENV=production``, else ``text``."""
    values = _env(env)
    raw = (values.get("BOT_LOG_FORMAT") or ("json" if production(values) else "text")).strip().lower()
    if raw not in ("json", "text"):
        raise ConfigError(f"BOT_LOG_FORMAT must be json or text, got {raw!r}")
    return raw


def log_level(env: Mapping[str, str] | None = None) -> str:
    """``BOT_LOG_LEVEL``: ``debug``, ``info`` (default), ``warning`` or ``error``."""
    raw = (_env(env).get("BOT_LOG_LEVEL") or "info").strip().lower()
    if raw not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"BOT_LOG_LEVEL must be debug, info, warning or error, got {raw!r}")
    return raw


def backup_dir(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_BACKUP_DIR``: where ``bot backup`` writes encrypted dumps (default: ``var/backups``)."""
    return _env(env).get("BOT_BACKUP_DIR") or None


def shred_ledger(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_SHRED_LEDGER``: the file every destroyed patient data key is also appended to, kept apart
    from the database (next to the backups), and replayed by ``bot restore`` (None: not kept)."""
    return _env(env).get("BOT_SHRED_LEDGER") or None


def pg_bin_dir(env: Mapping[str, str] | None = None) -> str | None:
    """``BOT_PG_BIN``: the directory of ``pg_dump`` / ``pg_restore`` matching the server (None: PATH)."""
    return _env(env).get("BOT_PG_BIN") or None


def trusted_proxies(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """``BOT_TRUSTED_PROXIES``: comma-separated IP addresses or CIDR networks of the reverse proxies in front
    of ``bot run``; only a request from one of them has its ``X-Forwarded-For`` honoured (default: none).
    A malformed entry stops start-up (ConfigError)."""
    import ipaddress

    raw = _env(env).get("BOT_TRUSTED_PROXIES", "")
    out: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as e:
            raise ConfigError(f"BOT_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR network") from e
        out.append(item)
    return tuple(out)
