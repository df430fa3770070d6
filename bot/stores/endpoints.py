"""Reading endpoints.yml: which file, safe YAML, ``${VAR}`` / ``${VAR:-default}`` interpolation.

Interpolation happens after parsing and only inside string values, so an environment variable's value is
never parsed as YAML. ``${VAR:-default}`` uses the default when VAR is unset or empty (as in the shell);
``${VAR}`` with VAR unset is a :class:`ConfigError` naming the variable and where it is used — values are
never echoed, because they are often secrets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot import settings
from bot.config_files import load_mapping
from bot.errors import ConfigError

ENV_VAR = settings.ENDPOINTS_ENV
WHAT = "the stores' and services' endpoints"
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_BODY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$", re.DOTALL)


def endpoints_path(path: Path | str | None = None) -> tuple[Path, bool]:
    """The file to read and whether it was asked for explicitly (argument or ``BOT_ENDPOINTS``)."""
    if path is not None:
        return Path(path), True
    env = settings.endpoints_file()
    if env:
        return Path(env), True
    return settings.project_dir() / "endpoints.yml", False


def load_endpoints(path: Path | None = None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The interpolated endpoints configuration.

    An explicitly named file that does not exist is an error; a missing default ``endpoints.yml`` means
    "embedded defaults" and gives ``{}``.
    """
    file, explicit = endpoints_path(path)
    if not explicit and not file.is_file():
        return {}
    data = load_mapping(file, WHAT, allow_empty=True)
    result = interpolate(data, settings.environ() if env is None else env, where=str(file))
    return dict(result)


def interpolate(value: Any, env: Mapping[str, str], *, where: str = "endpoints", path: str = "") -> Any:
    """Replace ``${VAR}`` references in every string of ``value`` (dicts and lists are walked)."""
    if isinstance(value, str):
        return _interpolate_string(value, env, where, path or "<root>")
    if isinstance(value, dict):
        return {
            key: interpolate(item, env, where=where, path=f"{path}.{key}" if path else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [interpolate(item, env, where=where, path=f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def _interpolate_string(text: str, env: Mapping[str, str], where: str, path: str) -> str:
    def replace(match: re.Match[str]) -> str:
        body = _BODY.match(match.group(1))
        if body is None:
            raise ConfigError(f"{where}: {path} has a malformed reference ${{{match.group(1)}}}")
        name, default = body.group(1), body.group(2)
        current = env.get(name)
        if default is not None:
            return current if current else default
        if current is None:
            raise ConfigError(
                f"{where}: {path} needs the environment variable {name}, which is not set "
                f"(or write ${{{name}:-default}})"
            )
        return current

    result = _REFERENCE.sub(replace, text)
    # Check the template, not the result: a variable's value may legitimately contain "${".
    if "${" in _REFERENCE.sub("", text):
        raise ConfigError(f"{where}: {path} has an unterminated ${{ reference")
    return result
