"""Shared fixtures: a synthetic clinic independent of the repo's clinic.yml, and database backends.

PostgreSQL tests need ``DATABASE_URL=postgresql://...``; each test session creates its own database
(``bot_sched_<random>``) on that server and drops it at the end, so concurrent test runs never collide.
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bot import db, settings
from bot.scheduling.clinic import Clinic
from bot.scheduling.clinic_loader import parse
from bot.scheduling.repository import AppointmentRepository

TZ = ZoneInfo("America/Mexico_City")

CLINIC: dict[str, Any] = {
    "name": "Consultorio de Prueba",
    "address": "Calle Ficticia 1, Col. Inventada, 00000 Ciudad de México",
    "maps_url": "https://maps.example.org/prueba",
    "phone": "+52 55 5000 0000",
    "emergency_phone": "911",
    "timezone": "America/Mexico_City",
    "portal_url": "https://portal.example.org/",
    "privacy_notice_url": "https://example.org/aviso",
    "hours": {
        "monday": [["09:00", "14:00"], ["16:00", "20:00"]],
        "tuesday": [["09:00", "14:00"], ["16:00", "20:00"]],
        "wednesday": [["09:00", "14:00"], ["16:00", "20:00"]],
        "thursday": [["09:00", "14:00"], ["16:00", "20:00"]],
        "friday": [["09:00", "14:00"], ["16:00", "19:00"]],
        "saturday": [["09:00", "13:00"]],
    },
    "holidays": ["2026-12-25", "2027-01-01"],
    "slot_minutes": 30,
    "min_notice_minutes": 120,
    "booking_horizon_days": 60,
    "physicians": [
        {
            "id": "lopez",
            "name": "Dra. Ficticia Uno",
            "specialty": "Medicina general",
            "services": ["consulta_general", "nutricion"],
            "schedule": {
                "monday": [["09:00", "14:00"], ["16:00", "20:00"]],
                "tuesday": [["09:00", "14:00"]],
                "wednesday": [["09:00", "14:00"], ["16:00", "20:00"]],
                "thursday": [["16:00", "20:00"]],
                "friday": [["09:00", "14:00"]],
                "saturday": [["09:00", "13:00"]],
            },
        },
        {
            "id": "castillo",
            "name": "Dr. Ficticio Dos",
            "specialty": "Pediatría",
            "services": ["pediatria", "consulta_general"],
            "schedule": {
                "tuesday": [["16:00", "20:00"]],
                "thursday": [["09:00", "14:00"], ["16:00", "20:00"]],
                # 21:00 is outside the clinic's hours: the effective schedule is the intersection
                "saturday": [["09:00", "21:00"]],
            },
        },
        {
            "id": "vega",
            "name": "Dr. Ficticio Tres",
            "specialty": "Psiquiatría",
            "services": ["psiquiatria"],
            "schedule": {"monday": [["09:00", "14:00"]]},
        },
    ],
    "services": [
        {"id": "consulta_general", "name": "Consulta general", "duration": 30, "price": 600},
        {"id": "pediatria", "name": "Consulta de pediatría", "duration": 30, "price": 750},
        {"id": "nutricion", "name": "Consulta de nutrición", "duration": 60, "price": 700},
        {"id": "psiquiatria", "name": "Psiquiatría", "duration": 60, "price": 1200, "sensitive": True},
    ],
}


def clinic_data() -> dict[str, Any]:
    """A deep copy of the synthetic clinic, safe to mutate."""
    return copy.deepcopy(CLINIC)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in the synthetic clinic's zone (America/Mexico_City)."""
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def clinic() -> Clinic:
    return parse(clinic_data())


# -- database backends --------------------------------------------------------------------------------


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")) else None


def postgres_url_or_skip() -> str:
    base = _postgres_url()
    if base is None:
        pytest.skip("PostgreSQL tests need DATABASE_URL=postgresql://...; it is unset or not postgres")
    return base


@contextmanager
def fresh_pg_database(base: str) -> Iterator[str]:
    """Create an empty database ``bot_sched_<random>`` next to ``base``'s; yield its URL; drop it."""
    url = make_url(settings.normalise_database_url(base))
    name = f"bot_sched_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session (dropped afterwards)."""
    with fresh_pg_database(postgres_url_or_skip()) as url:
        yield url


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = db.make_engine(pg_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Any) -> Iterator[Engine]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'sched.db'}")
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each repository test runs on SQLite and (when DATABASE_URL is postgres) on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_engine")
    engine: Engine = request.getfixturevalue("pg_engine")
    with engine.begin() as conn:  # the database is shared by the session: start each test empty
        conn.execute(text("TRUNCATE appointment_slots, appointments CASCADE"))
    return engine


@pytest.fixture
def repo(engine: Engine, clinic: Clinic) -> AppointmentRepository:
    return AppointmentRepository(engine, clinic)
