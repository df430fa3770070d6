"""The disclosure policy (``policies/disclosure.yml``) and the clinic facts the gate needs (clinic.yml).

The physician edits the YAML; this module refuses anything that would weaken the promise: every
clinical category is always blocked, and only the authenticated portal may be exempt from the gate.
Errors are :class:`bot.errors.ConfigError` with the file and the field to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config_files import load_yaml_any
from bot.errors import ConfigError
from bot.guard.detector import CATEGORIES
from bot.guard.links import sharing_domains

__all__ = [
    "ALWAYS_BLOCKED",
    "EXEMPTABLE_CHANNELS",
    "KNOWN_TOPICS",
    "ClinicServices",
    "DisclosurePolicy",
    "load_clinic_links",
    "load_clinic_services",
    "load_policy",
    "parse_policy",
]

ALWAYS_BLOCKED = frozenset(CATEGORIES)
EXEMPTABLE_CHANNELS = frozenset({"portal"})
KNOWN_TOPICS = frozenset({
    "appointments", "reminders", "hours", "address", "directions", "services", "prices", "payments", "links",
    "portal_notices", "preparation", "emergencies", "consent", "contact",
})
# Kinds a clinic may add terms to (the value/result kinds are patterns, not word lists).
EXTRA_TERM_KINDS = frozenset({"diagnosis", "medication", "treatment", "progress", "imaging_result",
                              "abbreviation"})
_KEYS = frozenset({
    "version", "allowed_topics", "blocked_categories", "exempt_channels", "extra_terms", "allowed_exceptions",
    "sensitive_services", "recent_window", "max_message_chars", "allowed_link_domains",
})
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class DisclosurePolicy:
    """What may travel over unencrypted channels, as the physician configured it."""

    allowed_topics: tuple[str, ...] = tuple(sorted(KNOWN_TOPICS))
    blocked_categories: frozenset[str] = ALWAYS_BLOCKED
    exempt_channels: frozenset[str] = EXEMPTABLE_CHANNELS
    extra_terms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    allowed_exceptions: tuple[str, ...] = ()
    sensitive_services: tuple[str, ...] = ()
    recent_window: int = 3
    max_message_chars: int = 4096
    # Hosts (and their subdomains) staff may link to besides the clinic.yml URLs' own.
    allowed_link_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClinicServices:
    """Service names from clinic.yml: all of them (general information) and the sensitive ones."""

    names: tuple[str, ...]
    sensitive: tuple[str, ...]


def _fail(source: str, message: str) -> ConfigError:
    return ConfigError(f"{source}: {message}")


def _str_list(data: Mapping[str, Any], key: str, source: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(source, f"'{key}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _positive_int(data: Mapping[str, Any], key: str, default: int, lo: int, hi: int, source: str) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(source, f"'{key}' must be an integer between {lo} and {hi}")
    return value


def parse_policy(data: object, source: str = "disclosure policy") -> DisclosurePolicy:
    """Validate already-parsed YAML and build the policy."""
    if not isinstance(data, Mapping):
        raise _fail(source, "the policy must be a mapping")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise _fail(source, f"unknown keys {unknown}; known keys: {sorted(_KEYS)}")
    if data.get("version", 1) != 1:
        raise _fail(source, "'version' must be 1")

    topics = _str_list(data, "allowed_topics", source) or tuple(sorted(KNOWN_TOPICS))
    bad_topics = sorted(set(topics) - KNOWN_TOPICS)
    if bad_topics:
        raise _fail(source, f"unknown allowed_topics {bad_topics}; known: {sorted(KNOWN_TOPICS)}")

    blocked = frozenset(_str_list(data, "blocked_categories", source) or ALWAYS_BLOCKED)
    unknown_categories = sorted(blocked - ALWAYS_BLOCKED)
    if unknown_categories:
        raise _fail(source, f"unknown blocked_categories {unknown_categories}; "
                            f"known: {sorted(ALWAYS_BLOCKED)}")
    missing = sorted(ALWAYS_BLOCKED - blocked)
    if missing:
        raise _fail(source, f"blocked_categories cannot drop {missing}: clinical information is always "
                            "blocked on unencrypted channels")

    exempt = frozenset(c.lower() for c in _str_list(data, "exempt_channels", source)) or EXEMPTABLE_CHANNELS
    not_exemptable = sorted(exempt - EXEMPTABLE_CHANNELS)
    if not_exemptable:
        raise _fail(source, f"exempt_channels {not_exemptable} are not allowed: only the authenticated "
                            "portal may be exempt")

    extra_raw = data.get("extra_terms") or {}
    if not isinstance(extra_raw, Mapping):
        raise _fail(source, "'extra_terms' must map a category to a list of terms")
    extra: dict[str, tuple[str, ...]] = {}
    for kind in extra_raw:
        if kind not in EXTRA_TERM_KINDS:
            raise _fail(source, f"extra_terms: unknown category {kind!r}; "
                                f"use one of {sorted(EXTRA_TERM_KINDS)}")
        extra[str(kind)] = _str_list(extra_raw, kind, f"{source}: extra_terms")

    domains = tuple(d.lower().removeprefix("www.") for d in _str_list(data, "allowed_link_domains", source))
    for domain in domains:
        if not _DOMAIN.fullmatch(domain):
            raise _fail(source, f"allowed_link_domains: {domain!r} is not a domain name (e.g. clinica.mx)")
        if any(domain == d or domain.endswith("." + d) for d in sharing_domains()):
            raise _fail(source, f"allowed_link_domains: {domain!r} is a file-sharing site or a link "
                                "shortener; those links are never sent")

    return DisclosurePolicy(
        allowed_topics=topics,
        blocked_categories=blocked,
        exempt_channels=exempt,
        extra_terms=extra,
        allowed_exceptions=_str_list(data, "allowed_exceptions", source),
        sensitive_services=_str_list(data, "sensitive_services", source),
        recent_window=_positive_int(data, "recent_window", 3, 0, 20, source),
        max_message_chars=_positive_int(data, "max_message_chars", 4096, 1, 100_000, source),
        allowed_link_domains=domains,
    )


def _read_yaml(path: Path) -> object:
    return load_yaml_any(path, "a disclosure or clinic configuration file")


def load_policy(path: Path) -> DisclosurePolicy:
    """Read and validate ``policies/disclosure.yml``."""
    return parse_policy(_read_yaml(path), str(path))


def load_clinic_services(path: Path) -> ClinicServices:
    """Service names (and which are sensitive) from clinic.yml."""
    data = _read_yaml(path)
    if not isinstance(data, Mapping):
        raise _fail(str(path), "must be a mapping")
    services = data.get("services") or []
    if not isinstance(services, list):
        raise _fail(str(path), "'services' must be a list")
    names: list[str] = []
    sensitive: list[str] = []
    for i, service in enumerate(services):
        if not isinstance(service, Mapping) or not isinstance(service.get("name"), str):
            raise _fail(str(path), f"services[{i}] needs a 'name'")
        flag = service.get("sensitive", False)
        if not isinstance(flag, bool):
            raise _fail(str(path), f"services[{i}].sensitive must be true or false")
        names.append(service["name"])
        if flag:
            sensitive.append(service["name"])
    return ClinicServices(tuple(names), tuple(sensitive))


def load_clinic_links(path: Path) -> tuple[str, ...]:
    """The clinic's own URLs in clinic.yml (``portal_url``, ``privacy_notice_url``, ``maps_url`` and any
    other top-level ``*_url``): the links staff may send."""
    data = _read_yaml(path)
    if not isinstance(data, Mapping):
        raise _fail(str(path), "must be a mapping")
    return tuple(
        value.strip()
        for key, value in data.items()
        if isinstance(key, str) and key.endswith("_url") and isinstance(value, str) and value.strip()
    )
