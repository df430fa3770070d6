"""Running a conversation chart: load-time checks, restoring a stored state, taking one transition.

The chart's configuration lives on the tracker (``FlowTransitioned`` events), so a conversation resumes
exactly after a process restart: the machine is rebuilt on a model holding the stored value (no
``on_enter`` fires) after the value is validated, and the history state is restored from what was stored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from statemachine import HistoryState, State, StateChart
from statemachine.exceptions import TransitionNotAllowed
from statemachine.orderedset import OrderedSet

from bot.core.domain import Domain
from bot.errors import FlowError
from bot.flow.phases import Phase


class NoTransition(FlowError):
    """The current state has no transition for this event (the dialogue answers with a fallback)."""


@dataclass
class _Model:
    state: Any = None


@dataclass(frozen=True)
class StepResult:
    source: tuple[str, ...]
    state: tuple[str, ...]
    history: dict[str, tuple[str, ...]]


#: Upper bound on memoised transitions (the clinic chart has a few hundred reachable combinations).
_MAX_MEMO = 4096


def _without_callbacks(machine: StateChart) -> bool:
    """True only if the machine registered no callback at all (python-statemachine's registry)."""
    registry = getattr(getattr(machine, "_callbacks", None), "_registry", None)
    if not isinstance(registry, Mapping) or getattr(machine, "_listeners", None):
        return False
    return not any(list(callbacks) for callbacks in registry.values())


def _walk(states: Iterable[State]) -> Iterator[State]:
    for state in states:
        yield state
        yield from _walk(getattr(state, "states", ()) or ())


class Flow:
    """A validated chart class plus its phase metadata."""

    def __init__(self, chart: type[StateChart], phases: Mapping[str, Phase]) -> None:
        self.chart = chart
        self.phases = dict(phases)
        probe = chart(model=_Model())
        self.state_ids = frozenset(probe.states_map)
        self.initial = self._config(probe)
        self.leaves = frozenset(
            s.id
            for s in _walk(chart.states)
            if not getattr(s, "states", None) and not isinstance(s, HistoryState)
        )
        self.events = frozenset(e.id for e in chart.events)  # type: ignore[attr-defined]
        self.history_ids = frozenset(
            h.id for s in _walk(chart.states) for h in getattr(s, "history", ()) or ()
        )
        # A chart without callbacks (no conditions, validators, actions, enter/exit hooks) is a pure
        # function of (configuration, history, event): its transitions can be memoised instead of
        # building a machine per turn. Any callback, or a library whose registry we cannot read,
        # keeps the always-rebuild path.
        self._pure = _without_callbacks(probe)
        self._steps: dict[tuple[Any, ...], StepResult] = {}
        self._events_at: dict[str, frozenset[str]] = {}

    @staticmethod
    def _config(machine: StateChart) -> tuple[str, ...]:
        value = machine.model.state
        if isinstance(value, str):
            return (value,)
        return tuple(str(v) for v in value)

    # -- load-time checks -------------------------------------------------------------------------
    def check(self, domain: Domain, action_names: Collection[str] = ()) -> None:
        """Every state reachable, no dead ends, every response a phase names exists in the domain."""
        missing = sorted(self.leaves - set(self.phases))
        if missing:
            raise FlowError(f"flow: states without phase metadata: {missing}")
        extra = sorted(set(self.phases) - self.leaves)
        if extra:
            raise FlowError(f"flow: phase metadata for unknown states: {extra}")
        for name, phase in self.phases.items():
            for response in phase.responses:
                if response not in domain.responses and response not in action_names:
                    raise FlowError(f"flow: phase {name!r} names unknown response or action {response!r}")
                if phase.paraphrase and response in domain.responses:
                    for variation in domain.responses[response].variations:
                        for var in variation.placeholders:
                            if domain.sensitivity_of(var) == "clinical":
                                raise FlowError(f"flow: paraphrase phase {name!r} uses clinical {var!r}")
        reachable = self._reachable()
        unreachable = sorted(self.leaves - reachable)
        if unreachable:
            raise FlowError(f"flow: unreachable states: {unreachable}")
        for leaf in self.leaves:
            if not self._exits(leaf):
                raise FlowError(f"flow: dead end: state {leaf!r} has no way out")

    def _outgoing(self, state_id: str) -> list[tuple[str, State]]:
        """(event, target) pairs usable in leaf ``state_id``, including its ancestors' transitions."""
        machine = self.chart(model=_Model())
        state = machine.states_map[state_id]
        pairs = []
        node: State | None = state
        while node is not None:
            for t in node.transitions:
                for target in t.targets:
                    pairs.append((str(t.event), target))
            node = node.parent
        return pairs

    def _exits(self, leaf: str) -> bool:
        return any(target.id != leaf for _, target in self._outgoing(leaf)) or bool(
            self.chart(model=_Model()).states_map[leaf].final
        )

    def _entry_leaves(self, target: State) -> set[str]:
        if isinstance(target, HistoryState):
            parent = target.parent
            return {s.id for s in parent.states if not isinstance(s, HistoryState)} if parent else set()
        children = [s for s in (getattr(target, "states", None) or ()) if not isinstance(s, HistoryState)]
        if not children:
            return {target.id}
        initial = next((s for s in children if s.initial), children[0])
        return self._entry_leaves(initial)

    def _reachable(self) -> set[str]:
        seen = {self.initial[-1]}
        todo = [self.initial[-1]]
        while todo:
            current = todo.pop()
            for _, target in self._outgoing(current):
                for leaf in self._entry_leaves(target):
                    if leaf not in seen:
                        seen.add(leaf)
                        todo.append(leaf)
        return seen

    # -- running ------------------------------------------------------------------------------------
    def restore(self, state: tuple[str, ...], history: Mapping[str, tuple[str, ...]]) -> StateChart:
        """A machine at a stored configuration. Unknown ids are a FlowError, never silently reset."""
        if not state:
            return self.chart(model=_Model())
        unknown = [s for s in state if s not in self.state_ids]
        unknown += [s for ids in history.values() for s in ids if s not in self.state_ids]
        unknown += [h for h in history if h not in self.history_ids]
        if unknown:
            raise FlowError(f"stored flow state names unknown states {unknown}; refusing to guess")
        value: Any = state[0] if len(state) == 1 else OrderedSet(state)
        machine = self.chart(model=_Model(state=value))
        for hist_id, ids in history.items():
            machine.history_values[hist_id] = [machine.states_map[i] for i in ids]
        return machine

    def step(self, state: tuple[str, ...], history: Mapping[str, tuple[str, ...]], event: str) -> StepResult:
        if not self._pure:
            return self._step(state, history, event)
        key = (tuple(state), tuple(sorted((k, tuple(v)) for k, v in history.items())), event)
        known = self._steps.get(key)
        if known is None:
            known = self._step(state, history, event)  # raises exactly as before; failures not cached
            if len(self._steps) < _MAX_MEMO:
                self._steps[key] = known
        return StepResult(known.source, known.state, dict(known.history))

    def _step(self, state: tuple[str, ...], history: Mapping[str, tuple[str, ...]], event: str) -> StepResult:
        machine = self.restore(state, history)
        source = self._config(machine)
        if event not in self.events:
            raise FlowError(f"flow has no event named {event!r}")
        try:
            machine.send(event)
        except TransitionNotAllowed as e:
            raise NoTransition(f"no transition for {event!r} in {source[-1]!r}") from e
        hist = {k: tuple(s.id for s in v) for k, v in machine.history_values.items()}
        return StepResult(source, self._config(machine), hist)

    def can(self, state: tuple[str, ...], event: str) -> bool:
        leaf = (state or self.initial)[-1]
        events = self._events_at.get(leaf)
        if events is None:  # the chart's structure never changes: computed once per leaf
            events = frozenset(ev for ev, _ in self._outgoing(leaf))
            self._events_at[leaf] = events
        return event in events

    def phase(self, state: tuple[str, ...]) -> Phase:
        return self.phases[(state or self.initial)[-1]]
