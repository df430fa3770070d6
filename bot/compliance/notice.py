"""Versioned privacy notices (integral and simplified) from ``privacy/``, filled in from clinic.yml.

A version's SHA-256 is taken over the rendered integral text (UTF-8); each purpose also has its own
SHA-256 over its text, so a new version only invalidates consent for the purposes whose text changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from string import Template
from typing import Any

from bot import settings
from bot.config_files import CLINIC_FILE, load_mapping
from bot.errors import ConfigError

PURPOSES = ("appointments", "reminders", "follow_up", "surveys")
NECESSARY = frozenset({"appointments"})


@dataclass(frozen=True)
class Purpose:
    id: str
    necessary: bool
    text: str
    sha256: str


@dataclass(frozen=True)
class NoticeVersion:
    version: str
    sha256: str
    url: str
    purposes: Mapping[str, Purpose]
    simplified_sha256: str = ""
    published: date = date(1970, 1, 1)
    text: str = ""
    simplified_text: str = ""

    def purpose_hashes(self) -> dict[str, str]:
        return {p.id: p.sha256 for p in self.purposes.values()}


def sha256_text(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _placeholders(clinic: Mapping[str, Any]) -> dict[str, str]:
    try:
        return {
            "practice": str(clinic["name"]),
            "address": str(clinic.get("address", "")),
            "phone": str(clinic.get("phone", "")),
            "notice_url": str(clinic["privacy_notice_url"]),
        }
    except KeyError as e:
        raise ConfigError(f"clinic.yml needs {e.args[0]!r} for the privacy notice") from e


def _render(path: Path, values: Mapping[str, str]) -> str:
    try:
        return Template(path.read_text(encoding="utf-8")).substitute(values)
    except FileNotFoundError as e:
        raise ConfigError(f"privacy notice file {path} not found") from e
    except (KeyError, ValueError) as e:
        raise ConfigError(f"privacy notice {path.name}: unknown placeholder {e}") from e


def _version(entry: Mapping[str, Any], directory: Path, values: Mapping[str, str]) -> NoticeVersion:
    version = str(entry.get("version", ""))
    if not version:
        raise ConfigError("privacy/notices.yml: every version needs a 'version'")
    integral = _render(directory / str(entry["integral"]), values)
    simplified = _render(directory / str(entry["simplified"]), values)
    purposes: dict[str, Purpose] = {}
    for pid, spec in (entry.get("purposes") or {}).items():
        if pid not in PURPOSES:
            raise ConfigError(f"notice {version}: unknown purpose {pid!r} (known: {', '.join(PURPOSES)})")
        text = " ".join(str(spec["text"]).split())
        if text not in " ".join(integral.split()):
            raise ConfigError(f"notice {version}: the text of purpose {pid!r} is not in the integral notice")
        necessary = bool(spec.get("necessary", False))
        if necessary != (pid in NECESSARY):
            raise ConfigError(f"notice {version}: purpose {pid!r} has the wrong 'necessary' flag")
        purposes[pid] = Purpose(pid, necessary, text, sha256_text(text))
    if "appointments" not in purposes:
        raise ConfigError(f"notice {version}: the necessary purpose 'appointments' is missing")
    published = entry.get("published")
    return NoticeVersion(
        version=version,
        sha256=sha256_text(integral),
        url=values["notice_url"],
        purposes=purposes,
        simplified_sha256=sha256_text(simplified),
        published=published if isinstance(published, date) else date.fromisoformat(str(published)),
        text=integral,
        simplified_text=simplified,
    )


def load_notices(privacy_dir: Path | None = None, clinic_path: Path | None = None) -> list[NoticeVersion]:
    """All versions, oldest first; the last is current."""
    project = settings.project_dir()
    directory = privacy_dir or project / "privacy"
    clinic = load_mapping(clinic_path or project / "clinic.yml", CLINIC_FILE, allow_empty=True)
    manifest = load_mapping(directory / "notices.yml", "the privacy notices' versions", allow_empty=True)
    entries = manifest.get("versions") or []
    if not entries:
        raise ConfigError(f"{directory / 'notices.yml'} lists no version")
    values = _placeholders(clinic)
    versions = [_version(e, directory, values) for e in entries]
    if len({v.version for v in versions}) != len(versions):
        raise ConfigError("privacy/notices.yml: duplicate version")
    return versions
