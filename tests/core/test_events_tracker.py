from __future__ import annotations

import json

import pytest

from bot.core.events import (
    EVENT_TYPES,
    ActionExecuted,
    AgentUttered,
    BotUttered,
    ErrorOccurred,
    EventError,
    FallbackTriggered,
    FlowTransitioned,
    HandoffEnded,
    HandoffStarted,
    SessionStarted,
    SlotSet,
    UserUttered,
    event_from_dict,
)
from bot.core.tracker import Tracker

SAMPLE = [
    SessionStarted(timestamp=1.0),
    FlowTransitioned(flow_event="start", state=("assistant", "greeting"), timestamp=2.0),
    UserUttered(
        text="hola",
        intent="greet",
        confidence=0.9,
        entities=({"entity": "person", "value": "Ana"},),
        message_id="SM1",
        channel="whatsapp",
        timestamp=3.0,
    ),
    ActionExecuted(name="decision", policy="FlowPolicy", timestamp=4.0),
    BotUttered(text="¡Hola!", response="utter_greet", timestamp=5.0),
    SlotSet(name="service", value="pediatria", timestamp=6.0),
    FlowTransitioned(
        flow_event="human_requested",
        source=("assistant", "booking"),
        state=("handoff",),
        history={"resume": ("booking",)},
        timestamp=7.0,
    ),
    HandoffStarted(reason="requested", timestamp=8.0),
    AgentUttered(text="Buenas tardes", agent="ana", timestamp=9.0),
    HandoffEnded(agent="ana", timestamp=10.0),
    FallbackTriggered(reason="low_confidence", timestamp=11.0),
    ErrorOccurred(kind="X", where="y", timestamp=12.0),
    SlotSet(name="service", value=None, timestamp=13.0),
]


def test_every_event_type_is_in_the_table_and_round_trips_through_json() -> None:
    assert {type(e) for e in SAMPLE} == set(EVENT_TYPES.values())
    for event in SAMPLE:
        again = event_from_dict(json.loads(json.dumps(event.as_dict())))
        assert again == event


def test_tracker_is_rebuilt_identically_by_replaying_its_events() -> None:
    tracker = Tracker.from_events("s1", SAMPLE)
    replayed = Tracker.from_dicts("s1", json.loads(json.dumps(tracker.as_dicts())))
    assert replayed.slots == tracker.slots == {}
    assert replayed.flow_state == tracker.flow_state == ("handoff",)
    assert replayed.flow_history == {"resume": ("booking",)}
    assert replayed.in_handoff is False and tracker.in_handoff is False
    assert replayed.low_confidence_streak == 1
    assert replayed.latest_message == SAMPLE[2]


def test_slot_set_and_unset() -> None:
    tracker = Tracker("s")
    tracker.apply(SlotSet(name="a", value=1))
    assert tracker.get_slot("a") == 1
    tracker.apply(SlotSet(name="a", value=None))
    assert tracker.get_slot("a") is None


def test_handoff_flags_follow_events() -> None:
    tracker = Tracker("s")
    tracker.apply(HandoffStarted(reason="requested"))
    assert tracker.in_handoff and tracker.handoff_reason == "requested"
    tracker.apply(HandoffEnded(agent="x"))
    assert not tracker.in_handoff


@pytest.mark.parametrize("bad", [{}, {"event": "nope"}, {"event": "slot", "bogus": 1}])
def test_unknown_or_malformed_events_are_errors_not_skipped(bad: dict[str, object]) -> None:
    with pytest.raises(EventError):
        event_from_dict(bad)


def test_recent_bot_texts_keep_the_last_three() -> None:
    tracker = Tracker("s")
    for i in range(5):
        tracker.apply(BotUttered(text=f"m{i}"))
    assert tracker.recent_bot_texts == ["m2", "m3", "m4"]


def test_decoding_fills_defaults_like_the_constructor_and_stays_frozen() -> None:
    import dataclasses

    flow = event_from_dict({"event": "flow", "state": ["handoff"], "history": {"resume": ["intake"]}})
    assert flow == FlowTransitioned(
        state=("handoff",), history={"resume": ("intake",)}, timestamp=flow.timestamp
    )
    assert isinstance(flow.state, tuple) and flow.history["resume"] == ("intake",)
    user = event_from_dict({"event": "user", "text": "hola", "timestamp": 3.0})
    assert user == UserUttered(text="hola", timestamp=3.0) and user.entities == ()
    a, b = event_from_dict({"event": "flow"}), event_from_dict({"event": "flow"})
    assert a.history == {} and a.history is not b.history  # default_factory: one dict per event
    assert a.timestamp > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.text = "x"  # type: ignore[misc]
    for cls in EVENT_TYPES.values():  # every type decodes from its bare name, equal to its defaults
        event = event_from_dict({"event": cls.type_name, "timestamp": 1.0})
        assert type(event) is cls and event == cls(timestamp=1.0)
