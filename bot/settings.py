"""Where the project's files live and how the environment selects backends.

The project directory (holding domain.yml, config.yml, endpoints.yml, clinic.yml, nlu/, flows/ ...) is
the current directory unless ``BOT_PROJECT_DIR`` says otherwise. Nothing here does I/O at import time.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_dir() -> Path:
    """The directory holding the clinic's configuration files."""
    env = os.environ.get("BOT_PROJECT_DIR")
    return Path(env).resolve() if env else Path.cwd()


def var_dir() -> Path:
    """Writable state for the embedded default (SQLite files, media, the generated data key); created on
    demand, owner-only (0700). An existing one of ours that others can enter is tightened to 0700, unless
    it is a shared directory (sticky bit, like /tmp) or not ours — then it is left alone."""
    env = os.environ.get("BOT_VAR_DIR")
    path = Path(env).resolve() if env else project_dir() / "var"
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        st = path.stat()
        if st.st_mode & 0o077 and not st.st_mode & 0o1000 and st.st_uid == os.getuid():
            path.chmod(0o700)
    return path


def models_dir() -> Path:
    env = os.environ.get("BOT_MODELS_DIR")
    return Path(env).resolve() if env else project_dir() / "models"


def database_url() -> str:
    """``DATABASE_URL`` or the embedded SQLite database under ``var/``."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return normalise_database_url(url)
    return f"sqlite:///{var_dir() / 'bot.db'}"


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
        from bot.errors import ConfigError

        raise ConfigError(f"BOT_ENV={env!r} is not one of production, development, embedded")
    if os.environ.get("DATABASE_URL") or os.environ.get("TWILIO_AUTH_TOKEN"):
        return DEPLOYED
    return EMBEDDED


def rest_token() -> str | None:
    """``BOT_REST_TOKEN``: the bearer token for the developer endpoints (None when unset)."""
    return os.environ.get("BOT_REST_TOKEN") or None
