"""Conversation test stories in Rasa's format, run against the real engine (``bot test stories``).

Each story runs in a fresh conversation against in-memory tracker/lock stores and a throw-away SQLite
database, with a fixed clock (``BOT_STORY_TIME`` or 2026-11-25T10:00-06:00, a Wednesday). Steps:
``user:`` (entity annotations allowed) with optional ``intent:``; ``action:`` (a response or a custom
action expected, in order); ``bot:`` (exact text expected); ``slot_was_set:``. Failed stories are written
back as YAML with ``# predicted:`` comments, as Rasa does. Before running, the stories are checked for
structure conflicts (one state, different next actions) and those are reported in Rasa's wording
(:mod:`bot.testing.conflicts`); a conflict fails the command like a failed story.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import settings
from bot.config_files import load_mapping
from bot.core.events import ActionExecuted, BotUttered
from bot.core.processor import UserMessage
from bot.errors import TrainingDataError
from bot.testing.conflicts import StoryConflict, conflicts_in

DEFAULT_TIME = "2026-11-25T10:00:00-06:00"
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](\((?P<ent>[^)]+)\)|\{(?P<json>[^}]+)\})")


def strip_annotations(text: str) -> str:
    return _ANNOTATION.sub(lambda m: m.group("text"), text).strip()


@dataclass
class StoryResult:
    name: str
    file: str
    passed: bool
    lines: list[str] = field(default_factory=list)  # the story as YAML with predictions


def load_stories(path: Path) -> list[tuple[str, dict[str, Any]]]:
    files = sorted(path.glob("**/*.yml")) if path.is_dir() else [path]
    stories: list[tuple[str, dict[str, Any]]] = []
    for file in files:
        data = load_mapping(file, "test stories", allow_empty=True, error=TrainingDataError)
        for story in data.get("stories") or []:
            if not isinstance(story, Mapping) or not isinstance(story.get("steps"), list):
                raise TrainingDataError(f"{file}: every story needs `story:` and a `steps:` list")
            stories.append((str(file), dict(story)))
    return stories


def _turns(steps: list[Any]) -> Iterable[tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]]:
    """Group steps as (user step, expectations that follow it)."""
    current: Mapping[str, Any] | None = None
    expected: list[Mapping[str, Any]] = []
    for step in steps:
        if isinstance(step, Mapping) and "user" in step:
            if current is not None or expected:
                yield current, expected
            current, expected = step, []
        else:
            expected.append(step)
    if current is not None or expected:
        yield current, expected


class StoryRunner:
    def __init__(self, project: Path | None = None, interpreter: Any = None, now: str | None = None) -> None:
        from bot.app.wiring import build_app_state
        from bot.db import make_engine, migrate

        self._tmp = tempfile.TemporaryDirectory(prefix="bot-stories-")
        engine = make_engine(f"sqlite:///{self._tmp.name}/stories.db")
        migrate(engine)
        self.engine = engine
        when = datetime.fromisoformat(now or settings.story_time() or DEFAULT_TIME)
        self.state = build_app_state(
            project,
            tracker_store={"type": "memory"},
            lock_store={"type": "memory"},
            interpreter=interpreter,
            engine=engine,
            clock=lambda: when,
        )
        self._count = 0

    def close(self) -> None:
        self.state.close()
        self.engine.dispose()
        self._tmp.cleanup()

    def run(self, file: str, story: Mapping[str, Any]) -> StoryResult:
        self._count += 1
        sender = f"rest:story-{self._count:05d}"
        processor = self.state.processor
        ok = True
        lines = [f"- story: {story.get('story')}", "  steps:"]
        for user, expected in _turns(story["steps"]):
            predicted: list[str] = []
            texts: list[str] = []
            if user is not None:
                text = strip_annotations(str(user["user"]))
                before = len(processor.tracker(sender).events)
                replies = processor.handle(UserMessage(sender_id=sender, text=text, channel="rest"))
                texts = [r.text for r in replies]
                tracker = processor.tracker(sender)
                new = tracker.events[before:]
                predicted = [e.name for e in new if isinstance(e, ActionExecuted) and e.name != "decision"]
                predicted += [e.response for e in new if isinstance(e, BotUttered) and e.response]
                intent = tracker.latest_message.intent if tracker.latest_message else None
                lines.append(f"  - user: {text!r}")
                if "intent" in user:
                    good = user["intent"] == intent
                    ok &= good
                    lines.append(
                        f"    intent: {user['intent']}" + ("" if good else f"  # predicted: {intent}")
                    )
            else:
                tracker = processor.tracker(sender)
            responses = [p for p in predicted if p.startswith("utter_")]
            actions = [p for p in predicted if not p.startswith("utter_")]
            r_i = 0
            for step in expected:
                if "action" in step:
                    name = str(step["action"])
                    if name.startswith("utter_"):
                        good = r_i < len(responses) and responses[r_i] == name
                        got = responses[r_i] if r_i < len(responses) else "nothing"
                        r_i += 1
                    else:
                        good, got = name in actions, ", ".join(actions) or "nothing"
                    ok &= good
                    lines.append(f"  - action: {name}" + ("" if good else f"  # predicted: {got}"))
                elif "bot" in step:
                    good = str(step["bot"]).strip() in texts
                    ok &= good
                    lines.append(f"  - bot: {step['bot']!r}" + ("" if good else f"  # predicted: {texts!r}"))
                elif "slot_was_set" in step:
                    for item in step["slot_was_set"]:
                        name, value = next(iter(item.items())) if isinstance(item, Mapping) else (item, None)
                        actual = tracker.get_slot(name)
                        good = actual is not None if value is None else actual == value
                        ok &= good
                        lines.append(
                            f"  - slot_was_set: [{{{name}: {value!r}}}]"
                            + ("" if good else f"  # predicted: {actual!r}")
                        )
            if r_i < len(responses):
                extra = responses[r_i:]
                ok = False
                lines.append(f"  # predicted, not expected: {', '.join(extra)}")
        return StoryResult(str(story.get("story")), file, ok, lines)


def run_stories(path: Path, out: Path | None = None, interpreter: Any = None) -> list[StoryResult]:
    stories = load_stories(path)
    runner = StoryRunner(interpreter=interpreter)
    try:
        results = [runner.run(file, story) for file, story in stories]
    finally:
        runner.close()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        failed = [r for r in results if not r.passed]
        body = "\n".join("\n".join(r.lines) for r in failed)
        (out / "failed_test_stories.yml").write_text(
            'version: "3.1"\nstories:\n' + body + "\n"
            if failed
            else "# None of the test stories failed - all good!\n",
            encoding="utf-8",
        )
    return results


def story_conflicts(path: Path, project: Path | None = None) -> list[StoryConflict]:
    """Rasa's story structure conflicts among the stories under ``path`` (slots typed by domain.yml)."""
    from bot.core.domain import load_domain

    domain = load_domain((project or settings.project_dir()) / "domain.yml")
    return conflicts_in(load_stories(path), domain)


def test_stories_command(args: argparse.Namespace) -> int:
    path = Path(args.stories) if args.stories else settings.project_dir() / "tests" / "stories"
    conflicts = story_conflicts(path)
    for conflict in conflicts:  # Rasa's wording, as `rasa data validate` prints them
        print(conflict, end="")
    results = run_stories(path, Path(args.out))
    failed = [r for r in results if not r.passed]
    for r in failed:
        print(f"FAILED  {r.name}  ({r.file})")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed"
          + (f", {len(conflicts)} story structure conflicts" if conflicts else ""))
    if failed:
        print(f"failed stories with predictions: {Path(args.out) / 'failed_test_stories.yml'}")
    return 1 if failed or conflicts else 0
