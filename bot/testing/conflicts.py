"""Story structure conflicts, found and worded as Rasa's ``rasa data validate`` finds and words them.

A conflict is one dialogue state followed by different actions in different stories: no policy could learn
both, and a story that passes against this engine while contradicting another is a story that documents
two behaviours. The algorithm is Rasa 3.6's (``rasa/core/training/story_conflict.py``): every story becomes
a tracker of events (``action_listen`` before each user message and after the last action); before each
action the state is (previous action, latest user message, slots that influence the conversation); the
history of states up to that point (all of it, or the last ``max_history``) is the key, and a key followed
by two different actions is a conflict. User messages are compared by intent when the story gives one,
else by text, plus the names of annotated entities; slot values are featurized as Rasa does (text and list
slots: set or not; bool, categorical and float slots: the value; ``any`` slots: ignored). Identical stories
count once. Conflicts whose state has no prior event (the story's first action) are not reported, as in
Rasa. Rasa lists conflicts and stories in the order its tracker generator produces them; here they follow
the files' order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.core.domain import Domain

ACTION_LISTEN = "action_listen"
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](\((?P<ent>[^)]+)\)|\{(?P<json>[^}]+)\})")

State = tuple[tuple[str, Any], ...]


@dataclass
class StoryConflict:
    """Different actions after the same state; ``str()`` is Rasa's message."""

    states: tuple[State, ...]
    actions: dict[str, list[str]] = field(default_factory=dict)  # action -> names of the stories

    @property
    def after(self) -> tuple[str, str] | None:
        """The event before the conflict, as Rasa names it: (kind, name), or None at a story's start."""
        last = dict(self.states[-1]) if self.states else {}
        prev = last.get("prev_action")
        if prev and prev[0] == "action_name" and prev[1] != ACTION_LISTEN:
            return "action", prev[1]
        if prev and prev[0] == "action_text":
            return "bot utterance", prev[1]
        user = dict(last.get("user") or ())
        if "intent" in user:
            return "intent", user["intent"]
        if "text" in user:
            return "user utterance", user["text"]
        return None

    def __str__(self) -> str:
        after = self.after
        head = (
            f"Story structure conflict after {after[0]} '{after[1]}':\n"
            if after
            else "Story structure conflict at the beginning of stories:\n"
        )
        lines = (f"  {action} predicted in {_summary(stories)}\n" for action, stories in self.actions.items())
        return head + "".join(lines)


def _summary(stories: list[str]) -> str:
    """Rasa's ``_summarize_conflicting_actions`` wording."""
    if len(stories) > 3:
        return f"'{stories[0]}', '{stories[1]}', and {len(stories) - 2} other trackers"
    if len(stories) == 3:
        return f"'{stories[0]}', '{stories[1]}', and '{stories[2]}'"
    if len(stories) == 2:
        return f"'{stories[0]}' and '{stories[1]}'"
    return f"'{stories[0]}'"


def _user_state(step: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    raw = str(step.get("user") or "")
    found = (m.group("ent") or _json_entity(m.group("json")) for m in _ANNOTATION.finditer(raw))
    entities = sorted({name.split(":")[0] for name in found})
    text = _ANNOTATION.sub(lambda m: m.group("text"), raw).strip()
    state: list[tuple[str, Any]] = (
        [("intent", str(step["intent"]))] if step.get("intent") else [("text", text)]
    )
    if entities:
        state.append(("entities", tuple(entities)))
    return tuple(state)


def _json_entity(raw: str | None) -> str:
    try:
        return str(json.loads("{" + (raw or "") + "}").get("entity", ""))
    except ValueError:
        return ""


def _feature(kind: str, value: Any) -> Any:
    """How Rasa's slot featurization tells values apart (None: the slot does not enter the state)."""
    if kind == "any":
        return None
    if kind in ("text", "list"):
        return 1.0 if value not in (None, [], "") else 0.0
    if kind == "bool":
        return None if value is None else float(bool(value))
    if kind == "categorical":
        return None if value is None else str(value).lower()
    return value


def _slot_events(step: Mapping[str, Any]) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    for item in step.get("slot_was_set") or []:
        if isinstance(item, Mapping):
            events.extend((str(k), v) for k, v in item.items())
        else:  # `- slot_name`: Rasa reads it as set, value unknown
            events.append((str(item), True))
    return events


def story_states(steps: Sequence[Any], domain: Domain | None = None) -> list[tuple[State, str]]:
    """(state, action that follows it) for every action of one story, ``action_listen`` included."""
    slot_types = {name: spec.type for name, spec in (domain.slots.items() if domain else ())}
    slots: dict[str, Any] = {}
    prev: tuple[str, str] = ("action_name", ACTION_LISTEN)
    user: tuple[tuple[str, Any], ...] = ()
    out: list[tuple[State, str]] = []

    def state() -> State:
        features = ((n, _feature(slot_types.get(n, "text"), v)) for n, v in slots.items())
        featured = tuple(sorted((n, f) for n, f in features if f is not None))
        parts: list[tuple[str, Any]] = [("prev_action", prev)]
        if user:
            parts.append(("user", user))
        if featured:
            parts.append(("slots", featured))
        return tuple(parts)

    def act(kind: str, name: str) -> None:
        nonlocal prev
        out.append((state(), name))
        prev = (kind, name)

    for step in steps:
        if not isinstance(step, Mapping):
            continue
        if "user" in step or ("intent" in step and "action" not in step):
            if prev != ("action_name", ACTION_LISTEN):
                act("action_name", ACTION_LISTEN)
            user = _user_state(step)
        elif "action" in step:
            act("action_name", str(step["action"]))
        elif "bot" in step:
            act("action_text", str(step["bot"]).strip())
        elif "slot_was_set" in step:
            slots.update(_slot_events(step))
    if prev != ("action_name", ACTION_LISTEN) and out:
        act("action_name", ACTION_LISTEN)
    return out


def find_story_conflicts(
    stories: Sequence[tuple[str, Sequence[Any]]],
    domain: Domain | None = None,
    max_history: int | None = None,
) -> list[StoryConflict]:
    """Rasa's story structure conflicts among ``stories`` (pairs of story name and steps)."""
    by_state: dict[str, StoryConflict] = {}
    seen_stories: set[str] = set()
    for name, steps in stories:
        pairs = story_states(steps, domain)
        identity = json.dumps(pairs, default=str)
        if identity in seen_stories:
            continue
        seen_stories.add(identity)
        history: list[State] = []
        for state, action in pairs:
            history.append(state)
            sliced = tuple(history[-max_history:] if max_history else history)
            key = json.dumps(sliced, default=str)
            conflict = by_state.setdefault(key, StoryConflict(sliced))
            stories_of = conflict.actions.setdefault(action, [])
            if name not in stories_of:
                stories_of.append(name)
    return [c for c in by_state.values() if len(c.actions) > 1 and c.after is not None]


def conflicts_in(stories: Sequence[tuple[str, Mapping[str, Any]]], domain: Domain | None = None,
                 max_history: int | None = None) -> list[StoryConflict]:
    """Conflicts among loaded stories (``(file, story)`` pairs as :func:`bot.testing.stories.load_stories`
    returns them)."""
    named = [(str(story.get("story")), list(story.get("steps") or [])) for _, story in stories]
    return find_story_conflicts(named, domain, max_history)

