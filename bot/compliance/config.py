"""compliance.yml: retention periods (with legal floors), ARCO deadlines, database role names.

Legal floors live in code, not in the file: a configuration below a floor is refused at load time with
the rule's source, so a typo cannot shorten what the law says to keep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bot import settings
from bot.config_files import CLINIC_FILE, load_mapping
from bot.errors import ComplianceError, ConfigError

#: Minimum years to keep the clinical record after the last medical act.
CLINICAL_RECORD_FLOOR_YEARS = 5
CLINICAL_RECORD_SOURCE = "NOM-004-SSA3-2012, 5.4 (mínimo 5 años a partir del último acto médico)"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class TableRule:
    """Rows of ``table`` whose ``timestamp`` is older than the period named by ``keep`` expire."""

    table: str
    timestamp: str
    keep: str
    statuses: tuple[str, ...] = ()  # only rows in these statuses (column ``status``) expire; () = any


@dataclass(frozen=True)
class ComplianceConfig:
    clinical_record_years: int = CLINICAL_RECORD_FLOOR_YEARS
    periods_months: Mapping[str, int] = field(default_factory=lambda: {"transcripts": 12, "appointments": 60})
    tables: tuple[TableRule, ...] = (
        TableRule("tracker_events", "created_at", "transcripts"),
        TableRule("appointments", "starts_at", "appointments"),
    )
    arco_business_days: int = 20
    arco_blocking_days: int = 90
    holidays: frozenset[date] = frozenset()
    assistant_role: str = "bot_app"
    portal_role: str = "bot_portal"

    def __post_init__(self) -> None:
        if self.clinical_record_years < CLINICAL_RECORD_FLOOR_YEARS:
            raise ComplianceError(
                f"retention.clinical_record_years={self.clinical_record_years} is below the legal floor of "
                f"{CLINICAL_RECORD_FLOOR_YEARS} years ({CLINICAL_RECORD_SOURCE}); refused"
            )
        for name, months in self.periods_months.items():
            if months < 1:
                raise ComplianceError(f"retention period {name!r} must be at least 1 month")
        for rule in self.tables:
            for ident in (rule.table, rule.timestamp):
                if not _IDENT.match(ident):
                    raise ConfigError(f"retention table rule: {ident!r} is not a plain SQL identifier")
            if rule.keep not in self.periods_months:
                raise ConfigError(f"retention table {rule.table!r} keeps for unknown period {rule.keep!r}")
        if self.arco_business_days < 1 or self.arco_blocking_days < 0:
            raise ConfigError("arco.response_business_days must be >= 1 and arco.blocking_days >= 0")
        for role in (self.assistant_role, self.portal_role):
            if not _IDENT.match(role):
                raise ConfigError(f"database role name {role!r} is not a plain SQL identifier")

    def months_for(self, rule: TableRule) -> int:
        return self.periods_months[rule.keep]


def _int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"compliance.yml: {key} must be an integer, got {value!r}")
    return value


def from_mapping(data: Mapping[str, Any], holidays: frozenset[date] = frozenset()) -> ComplianceConfig:
    retention = data.get("retention") or {}
    arco = data.get("arco") or {}
    roles = data.get("roles") or {}
    periods = {
        str(k): int(v["months"] if isinstance(v, Mapping) else v)
        for k, v in (retention.get("periods") or {"transcripts": 12, "appointments": 60}).items()
    }
    tables = tuple(
        TableRule(
            table=str(t["table"]),
            timestamp=str(t.get("timestamp", "created_at")),
            keep=str(t["keep"]),
            statuses=tuple(str(s) for s in t.get("statuses") or ()),
        )
        for t in retention.get("tables") or ()
    )
    extra = frozenset(date.fromisoformat(str(d)) for d in arco.get("holidays") or ())
    return ComplianceConfig(
        clinical_record_years=_int(retention, "clinical_record_years", CLINICAL_RECORD_FLOOR_YEARS),
        periods_months=periods,
        tables=tables,
        arco_business_days=_int(arco, "response_business_days", 20),
        arco_blocking_days=_int(arco, "blocking_days", 90),
        holidays=holidays | extra,
        assistant_role=str(roles.get("assistant", "bot_app")),
        portal_role=str(roles.get("portal", "bot_portal")),
    )


def _clinic_holidays(project: Path) -> frozenset[date]:
    path = project / "clinic.yml"
    if not path.exists():
        return frozenset()
    data = load_mapping(path, CLINIC_FILE, allow_empty=True)
    return frozenset(
        d if isinstance(d, date) else date.fromisoformat(str(d)) for d in data.get("holidays") or ()
    )


def load(path: Path | None = None) -> ComplianceConfig:
    """Read compliance.yml (default: in the project directory); clinic.yml holidays are non-business days."""
    project = settings.project_dir()
    path = path or project / "compliance.yml"
    data = load_mapping(path, "retention, ARCO and database roles", allow_empty=True)
    return from_mapping(data, _clinic_holidays(path.parent))
