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
    """Writable state for the embedded default (SQLite files, media); created on demand."""
    env = os.environ.get("BOT_VAR_DIR")
    path = Path(env).resolve() if env else project_dir() / "var"
    path.mkdir(parents=True, exist_ok=True)
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
