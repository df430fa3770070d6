from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import ConfigError, SlotUnavailableError
from bot.scheduling.availability import Near, Slot, check_slot, find_offers, find_slots, slot_starts
from bot.scheduling.clinic import Clinic
from bot.scheduling.clinic_loader import parse

from .conftest import TZ, clinic_data, local

MONDAY_7AM = local(2026, 11, 30, 7, 0)  # Monday 30 November 2026


def starts(slots: list[Slot]) -> list[datetime]:
    return [s.start for s in slots]


def test_earliest_is_spread_over_turnos(clinic: Clinic) -> None:
    slots = find_slots(clinic, [], service_id="consulta_general", near=None, now=MONDAY_7AM)
    assert starts(slots) == [local(2026, 11, 30, 9, 0), local(2026, 11, 30, 16, 0), local(2026, 12, 1, 9, 0)]
    assert all(s.physician_id == "lopez" and s.service_id == "consulta_general" for s in slots)
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)


def test_results_are_aware_in_the_clinic_zone_whatever_zone_now_is(clinic: Clinic) -> None:
    in_utc = find_slots(clinic, [], service_id="consulta_general", near=None, now=MONDAY_7AM.astimezone(UTC))
    in_tz = find_slots(clinic, [], service_id="consulta_general", near=None, now=MONDAY_7AM)
    assert in_utc == in_tz
    assert all(s.start.tzinfo is TZ for s in in_utc)
    # 9:00 in Mexico City is 15:00 UTC
    assert in_utc[0].start.astimezone(UTC) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def test_min_notice(clinic: Clinic) -> None:
    slots = find_slots(clinic, [], service_id="consulta_general", near=None, now=local(2026, 11, 30, 9, 10))
    assert slots[0].start == local(2026, 11, 30, 11, 30)  # 9:10 + 2 h = 11:10 -> next slot 11:30


def test_interval_prefers_inside_and_spreads(clinic: Clinic) -> None:
    afternoon = (local(2026, 12, 1, 12, 0), local(2026, 12, 1, 19, 0))  # "el martes en la tarde"
    slots = find_slots(clinic, [], service_id="consulta_general", near=afternoon, now=MONDAY_7AM)
    assert starts(slots) == [local(2026, 12, 1, 12, 0), local(2026, 12, 1, 13, 0), local(2026, 12, 1, 16, 0)]
    assert [s.physician_id for s in slots] == ["lopez", "lopez", "castillo"]
    assert all(afternoon[0] <= s.start and s.end <= afternoon[1] for s in slots)


def test_interval_with_nothing_inside_offers_the_closest_outside(clinic: Clinic) -> None:
    afternoon = (local(2026, 12, 1, 12, 0), local(2026, 12, 1, 19, 0))  # Vega only sees Monday mornings
    slots = find_slots(clinic, [], service_id="psiquiatria", near=afternoon, now=MONDAY_7AM)
    assert starts(slots) == [
        local(2026, 11, 30, 11, 0),
        local(2026, 11, 30, 12, 0),
        local(2026, 11, 30, 13, 0),
    ]


def test_interval_partly_full_fills_with_closest_outside(clinic: Clinic) -> None:
    window = (local(2026, 12, 3, 9, 0), local(2026, 12, 3, 10, 0))  # Thursday 9-10, Castillo only
    taken = [("castillo", local(2026, 12, 3, 9, 0), local(2026, 12, 3, 9, 30))]
    slots = find_slots(clinic, taken, service_id="consulta_general", near=window, now=MONDAY_7AM)
    assert slots[0].start == local(2026, 12, 3, 9, 30)
    assert len(slots) == 3 and all(s.start >= local(2026, 12, 3, 10, 0) for s in slots[1:])


def test_point_gives_the_exact_time_first_then_the_closest_around_it(clinic: Clinic) -> None:
    ten = local(2026, 12, 3, 10, 0)  # "el jueves a las 10"
    offers = find_offers(clinic, [], service_id="consulta_general", near=ten, now=MONDAY_7AM)
    assert starts(offers.slots) == [ten, local(2026, 12, 3, 9, 30), local(2026, 12, 3, 10, 30)]
    assert offers.asked == "free"


def test_taken_slots_are_not_offered(clinic: Clinic) -> None:
    ten = local(2026, 12, 3, 10, 0)
    taken = [("castillo", ten.astimezone(UTC), (ten + timedelta(minutes=30)).astimezone(UTC))]
    slots = find_slots(clinic, taken, service_id="consulta_general", near=ten, now=MONDAY_7AM)
    assert starts(slots) == [local(2026, 12, 3, 9, 0), local(2026, 12, 3, 9, 30), local(2026, 12, 3, 10, 30)]


def test_taken_by_another_physician_does_not_matter(clinic: Clinic) -> None:
    ten = local(2026, 12, 3, 10, 0)
    taken = [("lopez", ten, ten + timedelta(minutes=30))]
    slots = find_slots(clinic, taken, service_id="consulta_general", near=ten, now=MONDAY_7AM)
    assert ten in starts(slots)


def test_sixty_minute_service_needs_two_free_slots(clinic: Clinic) -> None:
    ten = local(2026, 11, 30, 10, 0)
    taken = [("lopez", local(2026, 11, 30, 10, 30), local(2026, 11, 30, 11, 0))]
    slots = find_slots(clinic, taken, service_id="nutricion", near=ten, now=MONDAY_7AM)
    assert starts(slots) == [
        local(2026, 11, 30, 9, 0),
        local(2026, 11, 30, 9, 30),
        local(2026, 11, 30, 11, 0),
    ]
    assert all(s.end - s.start == timedelta(minutes=60) for s in slots)


def test_sixty_minute_service_does_not_cross_the_end_of_a_turno(clinic: Clinic) -> None:
    slots = find_slots(
        clinic, [], service_id="nutricion", near=local(2026, 11, 30, 14, 0), now=MONDAY_7AM, n=12
    )
    monday = [s.start for s in slots if s.start.date() == local(2026, 11, 30, 0, 0).date()]
    assert local(2026, 11, 30, 13, 0) in monday and local(2026, 11, 30, 16, 0) in monday
    assert local(2026, 11, 30, 13, 30) not in monday and local(2026, 11, 30, 19, 30) not in monday


def test_holidays_are_skipped(clinic: Clinic) -> None:
    christmas = local(2026, 12, 25, 10, 0)  # a Friday: Lopez would work 9-14
    slots = find_slots(clinic, [], service_id="consulta_general", near=christmas, now=MONDAY_7AM, n=6)
    assert len(slots) == 6
    assert all(s.start.date() != christmas.date() for s in slots)


def test_schedules_and_physician_filter(clinic: Clinic) -> None:
    slots = find_slots(clinic, [], service_id="psiquiatria", near=None, now=MONDAY_7AM, n=20)
    assert len(slots) == 20
    for s in slots:
        assert s.physician_id == "vega" and s.start.weekday() == 0
        assert s.start.hour >= 9 and s.end <= s.start.replace(hour=14, minute=0)
    only = find_slots(
        clinic, [], service_id="consulta_general", near=None, now=MONDAY_7AM, physician_id="castillo", n=10
    )
    assert all(s.physician_id == "castillo" and s.start.weekday() in (1, 3, 5) for s in only)
    # Saturday: castillo's 9-21 is cut to the clinic's 9-13
    assert all(s.end.hour <= 13 for s in only if s.start.weekday() == 5)


def test_physician_load_balancing_when_both_are_free(clinic: Clinic) -> None:
    sat = local(2026, 12, 5, 10, 0)
    first = find_slots(clinic, [], service_id="consulta_general", near=sat, now=MONDAY_7AM, n=1)
    assert first[0].physician_id == "lopez"  # tie: clinic.yml order
    taken = [("lopez", local(2026, 12, 5, 9, 0), local(2026, 12, 5, 9, 30))]
    second = find_slots(clinic, taken, service_id="consulta_general", near=sat, now=MONDAY_7AM, n=1)
    assert second[0] == Slot(sat, sat + timedelta(minutes=30), "castillo", "consulta_general")


def test_horizon(clinic: Clinic) -> None:
    far = local(2027, 6, 1, 10, 0)
    slots = find_slots(clinic, [], service_id="consulta_general", near=far, now=MONDAY_7AM)
    last_day = MONDAY_7AM.date() + timedelta(days=60)
    assert len(slots) == 3 and all(s.start.date() <= last_day for s in slots)
    assert max(s.start for s in slots).date() == local(2027, 1, 29, 0, 0).date() == last_day


def test_point_in_the_past_gives_the_first_bookable_day_and_says_so(clinic: Clinic) -> None:
    past = local(2026, 11, 2, 10)  # a Monday
    offers = find_offers(clinic, [], service_id="consulta_general", near=past, now=MONDAY_7AM)
    # the closest bookable day, around the time of day asked
    assert starts(offers.slots) == [
        local(2026, 11, 30, 9, 30),
        local(2026, 11, 30, 10),
        local(2026, 11, 30, 10, 30),
    ]
    assert offers.asked == "soon"


def test_n_distinct_and_sorted(clinic: Clinic) -> None:
    slots = find_slots(clinic, [], service_id="consulta_general", near=None, now=MONDAY_7AM, n=8)
    assert len(slots) == 8 and len({s.start for s in slots}) == 8
    assert starts(slots) == sorted(starts(slots))
    assert find_slots(clinic, [], service_id="consulta_general", near=None, now=MONDAY_7AM, n=0) == []


def test_fully_booked_returns_nothing(clinic: Clinic) -> None:
    taken = [("vega", MONDAY_7AM, MONDAY_7AM + timedelta(days=70))]
    assert find_slots(clinic, taken, service_id="psiquiatria", near=None, now=MONDAY_7AM) == []


def test_errors(clinic: Clinic) -> None:
    with pytest.raises(ConfigError):
        find_slots(clinic, [], service_id="rayos_x", near=None, now=MONDAY_7AM)
    with pytest.raises(ConfigError):
        find_slots(clinic, [], service_id="consulta_general", near=None, now=MONDAY_7AM, physician_id="nadie")
    with pytest.raises(SlotUnavailableError, match="does not offer"):
        find_slots(clinic, [], service_id="psiquiatria", near=None, now=MONDAY_7AM, physician_id="lopez")
    with pytest.raises(ValueError, match="timezone-aware"):
        find_slots(clinic, [], service_id="consulta_general", near=None, now=datetime(2026, 11, 30, 7))
    with pytest.raises(ValueError, match="timezone-aware"):
        find_slots(clinic, [], service_id="consulta_general", near=datetime(2026, 12, 1, 9), now=MONDAY_7AM)


def test_dst_gap_times_are_never_offered() -> None:
    data = clinic_data()
    data["timezone"] = "America/Tijuana"  # clocks jump 2:00 -> 3:00 on Sunday 8 March 2026
    data["hours"] = {"sunday": [["00:00", "06:00"]], **data["hours"]}
    data["physicians"][0]["schedule"]["sunday"] = [["00:00", "06:00"]]
    clinic = parse(data)
    tz = ZoneInfo("America/Tijuana")
    now = datetime(2026, 3, 6, 9, 0, tzinfo=tz)
    slots = find_slots(
        clinic, [], service_id="consulta_general", near=datetime(2026, 3, 8, 1, 30, tzinfo=tz), now=now
    )
    assert len(slots) == 3
    for s in slots:
        assert s.start.date().isoformat() == "2026-03-08" and s.start.hour != 2
        assert datetime.fromtimestamp(s.start.timestamp(), tz) == s.start  # exists on the wall clock
    assert [s.start.astimezone(UTC).hour for s in slots] == [9, 9, 10]  # 1:00/1:30 PST, 3:00 PDT


def test_check_slot(clinic: Clinic) -> None:
    ok = check_slot(
        clinic, service_id="nutricion", physician_id="lopez", start=local(2026, 11, 30, 13), now=MONDAY_7AM
    )
    assert ok.end == local(2026, 11, 30, 14)
    cases = {
        "past or within the minimum notice": local(2026, 11, 30, 8, 0),
        "beyond the booking horizon": local(2027, 3, 1, 9, 0),
        "holiday": local(2026, 12, 25, 9, 0),
        "not on the slot grid": local(2026, 12, 2, 9, 15),
        "does not attend": local(2026, 12, 1, 13, 30),  # 60 min would end 14:30 (Tuesday)
    }
    for reason, start in cases.items():
        with pytest.raises(SlotUnavailableError, match=reason):
            check_slot(clinic, service_id="nutricion", physician_id="lopez", start=start, now=MONDAY_7AM)
    with pytest.raises(SlotUnavailableError, match="does not offer"):
        check_slot(
            clinic, service_id="nutricion", physician_id="vega", start=local(2026, 11, 30, 10), now=MONDAY_7AM
        )


def test_slot_starts() -> None:
    start = local(2026, 11, 30, 10)
    assert slot_starts(start, start + timedelta(minutes=60), 30) == [
        datetime(2026, 11, 30, 16, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 16, 30, tzinfo=UTC),
    ]


_taken_strategy = st.lists(
    st.tuples(
        st.sampled_from(["lopez", "castillo", "vega"]),
        st.integers(min_value=0, max_value=20 * 48),  # half-hour index from Monday 00:00
        st.integers(min_value=1, max_value=4),
    ),
    max_size=80,
)
_near_strategy = st.one_of(
    st.none(),
    st.integers(min_value=-48, max_value=30 * 48).map(lambda i: ("point", i)),
    st.tuples(st.integers(min_value=0, max_value=20 * 48), st.integers(min_value=1, max_value=24)).map(
        lambda t: ("interval", t)
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    taken_raw=_taken_strategy,
    near_raw=_near_strategy,
    service_id=st.sampled_from(["consulta_general", "nutricion", "psiquiatria", "pediatria"]),
    n=st.integers(min_value=1, max_value=6),
)
def test_every_offer_is_bookable(
    taken_raw: list[tuple[str, int, int]], near_raw: object, service_id: str, n: int
) -> None:
    clinic = parse(clinic_data())
    base = local(2026, 11, 30, 0, 0)
    half = timedelta(minutes=30)
    taken = [(pid, base + i * half, base + (i + k) * half) for pid, i, k in taken_raw]
    near: datetime | tuple[datetime, datetime] | None = None
    if isinstance(near_raw, tuple) and near_raw[0] == "point":
        near = base + near_raw[1] * half
    elif isinstance(near_raw, tuple):
        i, k = near_raw[1]
        near = (base + i * half, base + (i + k) * half)
    offers = find_offers(clinic, taken, service_id=service_id, near=near, now=MONDAY_7AM, n=n)
    slots = offers.slots
    assert 0 < len(slots) <= n
    assert len({s.start for s in slots}) == len(slots)
    _check_order(clinic, slots, near, offers.asked)
    for s in slots:
        check_slot(clinic, service_id=service_id, physician_id=s.physician_id, start=s.start, now=MONDAY_7AM)
        for pid, t_start, t_end in taken:
            assert not (pid == s.physician_id and t_start < s.end and s.start < t_end), "offered a taken slot"


def _check_order(clinic: Clinic, slots: list[Slot], near: Near, asked: str) -> None:
    """The exact time asked (when free) or the window's slots first, then the rest of the asked day(s),
    then other days; by time within each group."""
    if near is None:
        assert starts(slots) == sorted(starts(slots))
        return
    lo, hi = near if isinstance(near, tuple) else (near, near)
    first = lo.astimezone(TZ).date()
    last = (hi - timedelta(microseconds=1) if hi > lo else hi).astimezone(TZ).date()

    def group(s: Slot) -> int:
        if s.start == lo if not isinstance(near, tuple) else lo <= s.start and s.end <= hi:
            return 0
        return 1 if first <= s.start.date() <= last else 2

    assert [(group(s), s.start) for s in slots] == sorted((group(s), s.start) for s in slots)
    assert (group(slots[0]) == 0) == (asked == "free")


# ------------------------------------------------------------------------- the asked time comes first


def test_the_asked_day_comes_first_even_with_little_room(clinic: Clinic) -> None:
    """Finding: asked "el sábado a las 10" (taken), the first offer was Friday 13:00 and nothing said so."""
    sat = local(2026, 12, 5, 10, 0)
    busy = (local(2026, 12, 5, 9, 30), local(2026, 12, 5, 12, 30))  # only 9:00 and 12:30 left that Saturday
    taken = [("lopez", *busy), ("castillo", *busy)]
    offers = find_offers(clinic, taken, service_id="consulta_general", near=sat, now=MONDAY_7AM)
    assert starts(offers.slots) == [
        local(2026, 12, 5, 9, 0),
        local(2026, 12, 5, 12, 30),
        local(2026, 12, 4, 10),
    ]
    assert offers.asked == "taken"


def test_a_window_with_room_is_never_left_for_another_day(clinic: Clinic) -> None:
    thursday = (local(2026, 12, 3), local(2026, 12, 4))  # "el jueves": the whole clinic-local day
    taken = [("castillo", local(2026, 12, 3, 9), local(2026, 12, 3, 20))]  # lopez: Thursday 16-20 only
    offers = find_offers(clinic, taken, service_id="consulta_general", near=thursday, now=MONDAY_7AM)
    assert starts(offers.slots) == [local(2026, 12, 3, 16), local(2026, 12, 3, 17), local(2026, 12, 3, 18)]
    assert offers.asked == "free"


def test_a_full_part_of_day_offers_the_closest_times_that_day(clinic: Clinic) -> None:
    afternoon = (local(2026, 12, 1, 14), local(2026, 12, 1, 19))  # "el martes en la tarde"
    taken = [("castillo", local(2026, 12, 1, 16), local(2026, 12, 1, 20))]  # lopez: Tuesday 9-14
    offers = find_offers(clinic, taken, service_id="consulta_general", near=afternoon, now=MONDAY_7AM)
    assert starts(offers.slots) == [
        local(2026, 12, 1, 12, 30),
        local(2026, 12, 1, 13),
        local(2026, 12, 1, 13, 30),
    ]
    assert offers.asked == "taken"


def test_a_full_day_offers_that_part_of_the_closest_days(clinic: Clinic) -> None:
    afternoon = (local(2026, 12, 1, 14), local(2026, 12, 1, 19))  # "el martes en la tarde"
    taken = [
        ("castillo", local(2026, 12, 1, 16), local(2026, 12, 1, 20)),
        ("lopez", local(2026, 12, 1, 9), local(2026, 12, 1, 14)),
    ]
    offers = find_offers(clinic, taken, service_id="consulta_general", near=afternoon, now=MONDAY_7AM)
    # Monday and Wednesday are as close; the later day first; in the afternoon, an hour apart
    assert starts(offers.slots) == [local(2026, 12, 2, 16), local(2026, 12, 2, 17), local(2026, 12, 2, 18)]
    assert offers.asked == "taken"


@pytest.mark.parametrize(
    ("near", "asked"),
    [
        (local(2026, 12, 6, 10), "closed"),  # a Sunday
        ((local(2026, 12, 25), local(2026, 12, 26)), "closed"),  # a holiday
        (local(2026, 12, 3, 19, 30), "free"),
        (local(2026, 12, 3, 20), "closed"),  # Thursday 20:00: the clinic closes at 20:00
        ((local(2026, 12, 2, 20), local(2026, 12, 3)), "closed"),  # "el miércoles después de las 8"
        (local(2026, 11, 30, 8, 30), "closed"),  # before opening
        (local(2026, 11, 30, 8, 0), "closed"),
        (local(2026, 11, 30, 9, 0), "free"),  # exactly two hours' notice from 07:00
        (local(2026, 11, 29, 10, 0), "closed"),  # a past Sunday: no consultation anyway
        (local(2026, 11, 27, 10, 0), "soon"),  # a past Friday
        ((local(2026, 11, 30, 7), local(2026, 11, 30, 9, 0)), "closed"),
        (local(2027, 3, 2, 10), "far"),  # beyond the 60 days' horizon
        (local(2026, 12, 3, 10, 15), "near"),  # not a slot start: the closest, nothing to apologise for
        (local(2026, 12, 3, 10, 0), "free"),
    ],
)
def test_what_became_of_the_asked_time(clinic: Clinic, near: Near, asked: str) -> None:
    offers = find_offers(clinic, [], service_id="consulta_general", near=near, now=MONDAY_7AM)
    assert offers.asked == asked
    assert len(offers.slots) == 3


def test_too_soon_is_said(clinic: Clinic) -> None:
    now = local(2026, 11, 30, 8, 0)  # earliest: 10:00
    for near in (local(2026, 11, 30, 9, 30), (local(2026, 11, 30, 9), local(2026, 11, 30, 10, 0))):
        offers = find_offers(clinic, [], service_id="consulta_general", near=near, now=now)
        assert offers.asked == "soon"
        assert offers.slots[0].start == local(2026, 11, 30, 10, 0)  # the same day, the closest


def test_nothing_asked_is_none(clinic: Clinic) -> None:
    assert find_offers(clinic, [], service_id="consulta_general", near=None, now=MONDAY_7AM).asked == "none"
