"""Every conversation test story passes (the same runner as `bot test stories`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.testing.stories import StoryRunner, load_stories

HERE = Path(__file__).parent
STORIES = load_stories(HERE)


def test_there_are_at_least_thirty_stories() -> None:
    assert len(STORIES) >= 30


def test_no_story_structure_conflicts() -> None:
    """One state, one next action across all stories (what `rasa data validate` checks)."""
    from bot.testing.stories import story_conflicts

    conflicts = story_conflicts(HERE, HERE.parents[1])
    assert not conflicts, "".join(str(c) for c in conflicts)


@pytest.fixture(scope="module")
def runner(interpreter: Any) -> Any:
    runner = StoryRunner(HERE.parents[1], interpreter=interpreter)
    yield runner
    runner.close()


@pytest.mark.parametrize(("file", "story"), STORIES, ids=[str(s.get("story")) for _, s in STORIES])
def test_story(runner: Any, file: str, story: dict[str, Any]) -> None:
    result = runner.run(file, story)
    assert result.passed, "\n" + "\n".join(result.lines)
