"""Times as patients in Mexico type them on WhatsApp (``bot.nlu.timeparse``, ``bot.nlu.timeparse_atoms``).

Each case goes the way a message does: the first time entity, then the clinic-local window it asks for
(``search_window``). Classes: weekday typos and short forms, "mañana" misspelt, next week abbreviated,
dates in words, hours, fillers between a day and its hour, open bounds, parts of the day, Sunday night;
and what must never be read as a time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core import picks
from bot.nlu.timeparse import extract_times
from bot.nlu.timeparse_atoms import weekday_key
from bot.nlu.timeparse_window import Asked, search_window

MX = ZoneInfo("America/Mexico_City")
MON = datetime(2026, 11, 23, 10, 0, tzinfo=MX)  # Monday morning
TUE = datetime(2026, 12, 1, 9, 0, tzinfo=MX)  # Tuesday, the 1st
SUN = datetime(2026, 12, 6, 21, 15, tzinfo=MX)  # Sunday night: the clinic is closed on Sundays
SAT = datetime(2026, 12, 5, 11, 0, tzinfo=MX)  # Saturday


def _at(day: str, clock: str = "00:00") -> datetime:
    hours, minutes = (int(x) for x in clock.split(":"))
    return datetime.fromisoformat(day).replace(tzinfo=MX) + timedelta(hours=hours, minutes=minutes)


def whole(day: str, days: int = 1) -> Asked:
    return _at(day), _at(day) + timedelta(days=days)


def span(day: str, lo: str, hi: str) -> Asked:
    return _at(day, lo), (_at(day) + timedelta(days=1) if hi == "24:00" else _at(day, hi))


def meant(text: str, ref: datetime) -> Asked | str:
    found = extract_times(text, ref)
    if not found:
        return "none"
    return search_window(found[0].value, MX, found[0].grain, now=ref)


def check(text: str, ref: datetime, want: Asked | str) -> None:
    found = extract_times(text, ref)
    assert meant(text, ref) == want, [(m.text, m.value, m.grain) for m in found]


# ------------------------------------------------------------------ 1. weekday typos and short forms


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("para el juves", whole("2026-12-03")),
        ("el jueve en la mañana", span("2026-12-03", "08:00", "12:00")),
        ("¿puede ser el bierns?", whole("2026-12-04")),
        ("el viernees a las 6", _at("2026-12-04", "18:00")),
        ("el miércole temprano", span("2026-12-02", "07:00", "10:00")),
        ("el mierc a la 1", _at("2026-12-02", "13:00")),
        ("este sabaado", whole("2026-12-05")),
        ("el lune a las 8", _at("2026-12-07", "08:00")),
        ("nada más puedo los sábados", whole("2026-12-05")),
        # short forms, after a determiner
        ("el sáb en la mañana", span("2026-12-05", "08:00", "12:00")),
        ("el próximo vie", whole("2026-12-04")),
        ("este jue a las 5", _at("2026-12-03", "17:00")),
        ("la cita del mié", whole("2026-12-02")),
        ("el mier a las 10:30", _at("2026-12-02", "10:30")),
        ("el lun temprano", span("2026-12-07", "07:00", "10:00")),
        ("el dom", whole("2026-12-06")),
        ("el marte a las 9", _at("2026-12-08", "09:00")),
        # real words that are typos only right after "el"
        ("el vienes en la tarde", span("2026-12-04", "13:00", "19:00")),
        ("el jueces a las 10", _at("2026-12-03", "10:00")),
    ],
)
def test_weekday_typos_and_short_forms(text: str, want: Asked) -> None:
    check(text, TUE, want)


@pytest.mark.parametrize(
    "text",
    ["vienes", "¿tú vienes?", "los bienes raíces", "el bienes", "vie", "sab", "la mie", "marte es rojo",
     "el mar", "mates", "me dan lun"],
)
def test_words_that_are_not_weekdays(text: str) -> None:
    assert extract_times(text, TUE) == []


def test_vienes_alone_is_a_verb_and_the_day_next_to_it_stands() -> None:
    (match,) = extract_times("¿vienes mañana?", TUE)
    assert match.text == "mañana"


def test_the_shared_table_has_the_typos_but_no_short_forms() -> None:
    for typo, day in (("juves", 3), ("jueve", 3), ("bierns", 4), ("miercole", 2), ("mierc", 2), ("lune", 0)):
        assert picks.WEEKDAY_FORMS[typo] == day
    for word in ("bienes", "vienes", "vie", "sab", "mie", "jue", "lun", "marte", "mates"):
        assert word not in picks.WEEKDAY_FORMS
    assert picks.names_day("el juves a las 10") and picks.names_day("el sabaado a las 9")


@pytest.mark.parametrize(
    ("form", "key"),
    [("viernnees", "viernes"), ("saabado", "sabado"), ("juuueves", "jueves"), ("sabados", "sabado"),
     ("vie", "vie"), ("bienes", None)],
)
def test_weekday_keys(form: str, key: str | None) -> None:
    assert weekday_key(form) == key


# --------------------------------------------------------------------------- 2. "mañana" misspelt


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("mñana en la tarde", span("2026-11-24", "13:00", "19:00")),
        ("mañan a las 10", _at("2026-11-24", "10:00")),
        ("maniana temprano", span("2026-11-24", "07:00", "10:00")),
        ("pasadomañana a las 4", _at("2026-11-25", "16:00")),
        ("el maná", "none"),
    ],
)
def test_manana_misspelt(text: str, want: Asked | str) -> None:
    check(text, MON, want)


# ---------------------------------------------------------------------- 3. next week, abbreviated


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("para la prox semana", whole("2026-12-07", 7)),
        ("la sig. semana por favor", whole("2026-12-07", 7)),
        ("mejor la próxima", whole("2026-12-07", 7)),
        ("el jueves de la prox semana", whole("2026-12-10")),
        ("el viernes de la sig", whole("2026-12-11")),
        ("el jueves, la próxima", whole("2026-12-10")),
        ("hasta la próxima", "none"),
        ("la próxima vez", "none"),
    ],
)
def test_next_week_abbreviated(text: str, want: Asked | str) -> None:
    check(text, TUE, want)


# ------------------------------------------------------------------------------ 4. dates in words


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("el cuatro de enero", whole("2027-01-04")),
        ("1ero de febrero", whole("2027-02-01")),
        ("febrero 3", whole("2027-02-03")),
        ("ene 15 a las 11", _at("2027-01-15", "11:00")),
        ("para el primero", whole("2026-12-01")),
        ("el quince a las 10", _at("2026-12-15", "10:00")),
        ("el veintiocho", whole("2026-11-28")),
        ("el uno", "none"),
        ("el dos mil veinte", "none"),
        ("nací en diciembre 3 veces", whole("2026-12-01", 31)),  # the month, not the 3rd
    ],
)
def test_dates_in_words_and_month_first(text: str, want: Asked | str) -> None:
    check(text, MON, want)


# ------------------------------------------------------------------------------------------ 5. hours


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("17 hrs", _at("2026-11-23", "17:00")),
        ("20hrs", _at("2026-11-23", "20:00")),
        ("las 6", _at("2026-11-23", "18:00")),
        ("las 11 por favor", _at("2026-11-23", "11:00")),
        ("a las 4 20", _at("2026-11-23", "16:20")),
        ("tipo 3", _at("2026-11-23", "15:00")),
        ("tipo 4 y media", _at("2026-11-23", "16:30")),
        ("cada 6 hrs", "none"),
        ("ayuno de 12 hrs", "none"),
        ("tengo diabetes tipo 2", "none"),
        ("me quedan las 2", "none"),
        ("las 3 pastillas", "none"),
    ],
)
def test_hours(text: str, want: Asked | str) -> None:
    check(text, MON, want)


# ------------------------------------------------------------- 6. a day and its hour, with filler


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("el lunes como a eso de las 9", _at("2026-11-30", "09:00")),
        ("el miércoles por ahí de las 6", _at("2026-11-25", "18:00")),
        ("el jueves ya muy tarde a las 7", _at("2026-11-26", "19:00")),
        ("el martes, ese mismo día pero en la tarde", span("2026-11-24", "13:00", "19:00")),
        ("el viernes tipo 10", _at("2026-11-27", "10:00")),
    ],
)
def test_day_and_hour_are_one_expression(text: str, want: Asked) -> None:
    assert len(extract_times(text, MON)) == 1
    check(text, MON, want)


# ------------------------------------------------------------------------------------ 7. open bounds


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("dsps de las 4", span("2026-11-23", "16:00", "24:00")),
        ("despues d la 1", span("2026-11-23", "13:00", "24:00")),
        ("desp de las 6", span("2026-11-23", "18:00", "24:00")),
        ("pasadas las 5", span("2026-11-23", "17:00", "24:00")),
        ("el jueves antes del mediodía", span("2026-11-26", "00:00", "12:00")),
        ("el jueves después del mediodía", span("2026-11-26", "12:00", "24:00")),
        ("el viernes después de comer", span("2026-11-27", "15:00", "24:00")),
        ("antes de comer", span("2026-11-23", "00:00", "14:00")),
        ("me duele la panza después de comer", "none"),
        ("¿lo tomo antes de la comida?", "none"),
    ],
)
def test_open_bounds(text: str, want: Asked | str) -> None:
    check(text, MON, want)


# ------------------------------------------------------------------------------- 8. parts of the day


@pytest.mark.parametrize(
    ("text", "ref", "want"),
    [
        ("mañana noche", MON, span("2026-11-24", "19:00", "24:00")),
        ("el sábado tarde", MON, span("2026-11-28", "13:00", "19:00")),
        ("hoy en la tarde noche", MON, span("2026-11-23", "17:00", "21:00")),
        ("el jueves a las 8 en la tarde-noche", MON, _at("2026-11-26", "20:00")),
        ("más al ratito", MON, span("2026-11-23", "10:00", "24:00")),
        ("al rato si hay", datetime(2026, 11, 23, 23, 20, tzinfo=MX), whole("2026-11-24")),
        ("el fin de semana a las 10", MON, _at("2026-11-28", "10:00")),
        ("en la mañana del fin de semana", MON, span("2026-11-28", "08:00", "12:00")),
        ("buenas tardes", MON, "none"),
        ("llego tarde", MON, "none"),
        ("ya es tarde", MON, "none"),
        ("espero un rato", MON, "none"),
    ],
)
def test_parts_of_the_day(text: str, ref: datetime, want: Asked | str) -> None:
    check(text, ref, want)


# ----------------------------------------------------------------------- 9. Sunday night, Saturday


@pytest.mark.parametrize(
    ("text", "ref", "want"),
    [
        ("algo el fin de semana", SUN, whole("2026-12-12", 2)),
        ("el próximo finde", SUN, whole("2026-12-12", 2)),
        ("esta semana de preferencia", SUN, whole("2026-12-07", 7)),
        ("el miércoles de esta semana", SUN, whole("2026-12-09")),
        ("el otro martes a las 10", SUN, _at("2026-12-15", "10:00")),
        ("el martes mejor", SUN, whole("2026-12-08")),
        ("para la semana que entra", SUN, whole("2026-12-07", 7)),  # the calendar: the week starting tomorrow
        ("algo el fin de semana", SAT, whole("2026-12-05", 2)),
        ("el próximo finde", SAT, whole("2026-12-12", 2)),
        ("esta semana de preferencia", SAT, whole("2026-11-30", 7)),
        ("el otro martes a las 10", MON, _at("2026-12-01", "10:00")),
    ],
)
def test_sunday_looks_forward(text: str, ref: datetime, want: Asked) -> None:
    check(text, ref, want)


# ------------------------------------------------------------------------------- what is not a time


@pytest.mark.parametrize(
    "text",
    [
        "buenas tardes, gracias",
        "los bienes de mi mamá",
        "tengo un mes con tos",
        "por fin",
        "el fin del mundo",
        "tomo la pastilla cada 8 hrs",
        "llevo 16 hrs sin comer",
        "cualquiera de las opciones",
        "tengo diabetes tipo 1 desde niña",
        "¿viene el doctor?",
    ],
)
def test_not_a_time(text: str) -> None:
    assert extract_times(text, MON) == []
