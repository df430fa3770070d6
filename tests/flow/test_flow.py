from __future__ import annotations

from pathlib import Path

import pytest
from statemachine import State, StateChart

from actions import registry
from bot.core.domain import load_domain
from bot.errors import FlowError
from bot.flow.phases import Phase
from bot.flow.runtime import Flow, NoTransition
from flows.clinic import PHASES, ClinicFlow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def flow() -> Flow:
    return Flow(ClinicFlow, PHASES)


def test_the_clinic_flow_passes_its_load_time_checks(flow: Flow) -> None:
    flow.check(load_domain(ROOT / "domain.yml"), list(registry()))
    assert flow.leaves == {
        "greeting",
        "consent",
        "intake",
        "booking",
        "confirmation",
        "follow_up",
        "handoff",
        "opted_out",
        "closed",
    }


def test_charts_are_strict() -> None:
    assert ClinicFlow.allow_event_without_transition is False
    assert ClinicFlow.catch_errors_as_events is False


def test_an_event_without_transition_raises_instead_of_being_ignored(flow: Flow) -> None:
    with pytest.raises(NoTransition):
        flow.step(flow.initial, {}, "slot_chosen")
    with pytest.raises(FlowError, match="no event named"):
        flow.step(flow.initial, {}, "not_an_event")


def test_handoff_is_reachable_from_every_assistant_phase_and_resumes_there(flow: Flow) -> None:
    paths = {
        "greeting": [],
        "consent": ["consent_requested"],
        "intake": ["consent_requested", "consent_given"],
        "booking": ["consent_requested", "consent_given", "details_complete"],
        "confirmation": ["consent_requested", "consent_given", "details_complete", "slot_chosen"],
        "follow_up": [
            "consent_requested",
            "consent_given",
            "details_complete",
            "slot_chosen",
            "booking_confirmed",
        ],
    }
    for phase, events in paths.items():
        state, history = flow.initial, {}
        for event in events:
            result = flow.step(state, history, event)
            state, history = result.state, result.history
        assert state[-1] == phase
        result = flow.step(state, history, "human_requested")
        assert result.state == ("handoff",)
        # restart: only the stored values survive
        back = flow.step(tuple(result.state), dict(result.history), "agent_resolved")
        assert back.state == ("assistant", phase)


def test_opt_out_from_anywhere_and_back(flow: Flow) -> None:
    out = flow.step(("assistant", "booking"), {}, "opt_out")
    assert out.state == ("opted_out",)
    assert flow.step(out.state, out.history, "opt_in").state == ("assistant", "greeting")
    assert flow.step(("handoff",), {"resume": ("intake",)}, "opt_out").state == ("opted_out",)


def test_a_stored_state_naming_unknown_states_is_refused(flow: Flow) -> None:
    with pytest.raises(FlowError, match="unknown states"):
        flow.restore(("assistant", "nowhere"), {})
    with pytest.raises(FlowError, match="unknown states"):
        flow.restore(("handoff",), {"resume": ("ghost",)})


def test_unreachable_states_are_refused_when_the_chart_class_is_created() -> None:
    from statemachine.exceptions import InvalidDefinition

    with pytest.raises(InvalidDefinition, match="unreachable"):

        class _Lonely(StateChart):  # type: ignore[misc]
            start = State(initial=True)
            stuck = State()
            lonely = State()
            go = start.to(stuck)


class _NoExit(StateChart):  # type: ignore[misc]
    allow_event_without_transition = False
    catch_errors_as_events = False
    start = State(initial=True)
    stuck = State()
    go = start.to(stuck)
    spin = stuck.to.itself()  # the library accepts a self-loop; our check still calls it a dead end


def test_load_checks_find_dead_ends_unknown_responses_and_missing_metadata() -> None:
    domain = load_domain(ROOT / "domain.yml")
    phases = {name: Phase(responses=("utter_greet",)) for name in ("start", "stuck")}
    with pytest.raises(FlowError, match="dead end"):
        Flow(_NoExit, phases).check(domain)
    with pytest.raises(FlowError, match="unknown response"):
        Flow(_NoExit, {**phases, "start": Phase(responses=("utter_nope",))}).check(domain)
    with pytest.raises(FlowError, match="without phase metadata"):
        Flow(_NoExit, {"start": phases["start"]}).check(domain)


def test_memoised_transitions_match_a_freshly_built_machine() -> None:
    """The clinic chart has no callbacks, so steps are memoised; every answer equals a rebuilt machine's."""
    import random

    flow = Flow(ClinicFlow, PHASES)
    assert flow._pure
    rng = random.Random(7)
    events = sorted(flow.events)
    for _ in range(40):
        state, history = flow.initial, {}
        for _ in range(25):
            event = rng.choice(events)
            try:
                fresh = flow._step(state, history, event)
            except NoTransition:
                with pytest.raises(NoTransition):
                    flow.step(state, history, event)
                assert not flow.can(state, event)
                continue
            assert flow.can(state, event)
            for _ in range(2):  # a miss, then a hit
                got = flow.step(state, history, event)
                assert (got.source, got.state, got.history) == (fresh.source, fresh.state, fresh.history)
            got.history.clear()  # a caller mutating its copy does not change the memo
            again = flow.step(state, history, event)
            assert again.history == fresh.history
            state, history = fresh.state, fresh.history


class _Counting(StateChart):  # type: ignore[misc]
    start = State(initial=True)
    other = State()
    go = start.to(other)
    back = other.to(start)
    entered = 0

    def on_enter_other(self) -> None:
        type(self).entered += 1


def test_a_chart_with_callbacks_is_never_memoised() -> None:
    flow = Flow(_Counting, {"start": Phase(responses=()), "other": Phase(responses=())})
    assert not flow._pure
    before = _Counting.entered
    for _ in range(3):
        assert flow.step(("start",), {}, "go").state == ("other",)
    assert _Counting.entered == before + 3
