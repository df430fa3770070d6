"""Reading the project's YAML files: one loader, one wording for what can go wrong.

Every configuration file goes through :func:`load_mapping` (or :func:`load_yaml_any` where the top level
may be a list), so a missing, unreadable, malformed or wrongly shaped file is reported the same way
everywhere — which file, what it is for, where it was looked for:

* ``clinic.yml (the practice's configuration) not found at /srv/clinic.yml``
* ``clinic.yml (…) at /srv/clinic.yml is not valid YAML: <problem> at line 3, column 7``
* ``clinic.yml (…) at /srv/clinic.yml must hold a mapping at the top level, not a list``
* ``clinic.yml (…) at /srv/clinic.yml cannot be read: Permission denied``

A YAML error names the problem and its position but never quotes the offending line: configuration
files may hold literal secrets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.errors import BotError, ConfigError

#: What the files read by more than one module are, in the wording of the messages.
CLINIC_FILE = "the practice's configuration"
CONFIG_FILE = "the language, NLU pipeline and policies"


def load_yaml_any(path: Path, what: str, *, error: type[BotError] = ConfigError) -> Any:
    """The parsed document of ``path`` (None for an empty file), whatever its top level is.

    ``what`` says what the file is for ("the practice's configuration"); ``error`` is the exception
    raised (a :class:`ConfigError` unless the caller's domain has its own, e.g. ``DomainError``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise error(f"{_label(path, what)} not found at {path}") from e
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise error(f"{_label(path, what)} at {path} cannot be read: {reason}") from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise error(f"{_label(path, what)} at {path} is not valid YAML: {yaml_problem(e)}") from e


def load_mapping(
    path: Path, what: str, *, allow_empty: bool = False, error: type[BotError] = ConfigError
) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``path``.

    An empty file is ``{}`` with ``allow_empty`` and otherwise an error like any other non-mapping (a file
    the project cannot run without must say something).
    """
    path = Path(path)
    data = load_yaml_any(path, what, error=error)
    if data is None and allow_empty:
        return {}
    if not isinstance(data, dict):
        raise error(
            f"{_label(path, what)} at {path} must hold a mapping at the top level, not {_shape(data)}"
        )
    return data


def yaml_problem(e: yaml.YAMLError) -> str:
    """Where and what, without PyYAML's quote of the offending line (it could hold a literal secret)."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or type(e).__name__
    if mark is None:
        return str(problem)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"


def _label(path: Path, what: str) -> str:
    return f"{path.name} ({what})"


def _shape(data: object) -> str:
    if data is None:
        return "nothing (the file is empty)"
    if isinstance(data, list):
        return "a list"
    return f"a single value ({type(data).__name__})"
