"""Dialogue policies, consulted in config.yml order: emergency > clinical request > flow > fallback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.dialogue import Policy
from bot.errors import ConfigError


def _table() -> dict[str, type]:
    from policies.clinical import ClinicalRequestPolicy
    from policies.emergency import EmergencyPolicy
    from policies.fallback import FallbackPolicy
    from policies.flow import FlowPolicy

    table: dict[str, type] = {}
    for cls in (EmergencyPolicy, ClinicalRequestPolicy, FlowPolicy, FallbackPolicy):
        table[cls.__name__] = cls
        table[f"{cls.__module__}.{cls.__name__}"] = cls
    return table


def build_policies(config: Sequence[Mapping[str, Any]]) -> list[Policy]:
    """Policies from config.yml's ``policies:`` list; unknown names or parameters are a ConfigError."""
    table = _table()
    policies: list[Policy] = []
    for entry in config:
        name = str(entry.get("name"))
        cls = table.get(name)
        if cls is None:
            supported = sorted(n for n in table if "." in n)
            raise ConfigError(f"config.yml: unknown policy {name!r}; supported: {', '.join(supported)}")
        params = {k: v for k, v in entry.items() if k != "name"}
        try:
            policies.append(cls(**params))
        except TypeError as e:
            raise ConfigError(f"config.yml: policy {name}: invalid parameters {sorted(params)}: {e}") from e
    if not policies:
        raise ConfigError("config.yml: `policies:` is empty; the assistant needs at least the flow policy")
    return policies
