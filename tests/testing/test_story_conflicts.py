"""Story structure conflicts are found and worded as Rasa 3.6's ``rasa data validate`` does.

The expected messages below were produced by Rasa 3.6.21 itself on the same stories (bench/rasa_compat.sh
runs it on the project's stories); Rasa's order of conflicts and stories follows its tracker generator,
so the comparison is per conflict, order aside.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.domain import Domain, load_domain
from bot.testing import stories as story_runner
from bot.testing.conflicts import find_story_conflicts, story_states

ROOT = Path(__file__).resolve().parents[2]

# The two stories of tests/stories/control.yml that Rasa found in conflict (issue 23), as they were.
HANDOFF = """
stories:
- story: hand off to a person, one acknowledgement, then silent
  steps:
  - user: quiero hablar con una persona
  - action: action_handoff
  - action: utter_handoff
  - user: hola? sigue ahi?
  - action: utter_handoff_waiting
- story: opt out during a handoff, then opt back in
  steps:
  - user: quiero hablar con una persona
  - action: utter_handoff
  - user: hola? sigue ahi?
  - action: utter_handoff_waiting
"""
RASA_HANDOFF = """Story structure conflict after user utterance 'quiero hablar con una persona':
  utter_handoff predicted in 'opt out during a handoff, then opt back in'
  action_handoff predicted in 'hand off to a person, one acknowledgement, then silent'
"""

# Each kind of conflict Rasa reports; RASA_KINDS is Rasa 3.6.21's output on exactly these stories.
KINDS = """
stories:
- {story: a ends, steps: [{user: hola}, {action: utter_greet}]}
- {story: b continues, steps: [{user: hola}, {action: utter_greet}, {action: utter_anything_else}]}
- story: c listens
  steps: [{user: que horario}, {action: utter_hours}, {user: gracias}, {action: utter_you_are_welcome}]
- {story: d continues, steps: [{user: que horario}, {action: utter_hours}, {action: utter_location}]}
- {story: e intent, steps: [{intent: greet}, {action: utter_greet}]}
- {story: f intent, steps: [{intent: greet}, {action: utter_greet_again}]}
- story: g slot
  steps: [{user: BAJA}, {action: action_opt_out}, {slot_was_set: [{opted_out: true}]},
          {action: utter_opted_out}]
- story: h slot
  steps: [{user: BAJA}, {action: action_opt_out}, {slot_was_set: [{opted_out: false}]},
          {action: utter_not_now}]
- {story: i entities, steps: [{user: "soy [Ana](person)"}, {action: utter_ask_time}]}
- {story: j entities, steps: [{user: "soy [Luisa](person)"}, {action: utter_ask_service}]}
- {story: k three, steps: [{user: mmm}, {action: utter_ask_rephrase}]}
- {story: l three, steps: [{user: mmm}, {action: utter_offer_human}]}
- {story: m three, steps: [{user: mmm}, {action: utter_out_of_scope}]}
- {story: n three, steps: [{user: mmm}, {action: utter_out_of_scope}]}
- {story: o bot, steps: [{user: adios}, {bot: Hasta luego}, {action: utter_goodbye}]}
- {story: p bot, steps: [{user: adios}, {bot: Hasta luego}, {action: utter_anything_else}]}
"""
RASA_KINDS = """Story structure conflict after action 'utter_hours':
  action_listen predicted in 'c listens'
  utter_location predicted in 'd continues'
Story structure conflict after action 'utter_greet':
  utter_anything_else predicted in 'b continues'
  action_listen predicted in 'a ends'
Story structure conflict after bot utterance 'Hasta luego':
  utter_anything_else predicted in 'p bot'
  utter_goodbye predicted in 'o bot'
Story structure conflict after user utterance 'mmm':
  utter_offer_human predicted in 'l three'
  utter_out_of_scope predicted in 'm three'
  utter_ask_rephrase predicted in 'k three'
Story structure conflict after intent 'greet':
  utter_greet_again predicted in 'f intent'
  utter_greet predicted in 'e intent'
"""


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_domain(ROOT / "domain.yml")


def _stories(text: str) -> list[tuple[str, list[Any]]]:
    return [(s["story"], s["steps"]) for s in yaml.safe_load(text)["stories"]]


def _blocks(text: str) -> set[tuple[str, frozenset[str]]]:
    """Conflict messages as (header, set of action lines): Rasa's order is not the files' order."""
    blocks: set[tuple[str, frozenset[str]]] = set()
    for chunk in text.split("Story structure conflict")[1:]:
        head, *lines = chunk.strip("\n").split("\n")
        blocks.add((head, frozenset(lines)))
    return blocks


def test_the_handoff_conflict_is_reported_in_rasas_words(domain: Domain) -> None:
    conflicts = find_story_conflicts(_stories(HANDOFF), domain)
    assert len(conflicts) == 1
    assert _blocks(str(conflicts[0])) == _blocks(RASA_HANDOFF)


def test_every_kind_of_conflict_matches_rasa(domain: Domain) -> None:
    conflicts = find_story_conflicts(_stories(KINDS), domain)
    assert _blocks("".join(str(c) for c in conflicts)) == _blocks(RASA_KINDS)


def test_the_fixed_stories_have_no_conflict(domain: Domain) -> None:
    fixed = HANDOFF.replace(
        "  - user: quiero hablar con una persona\n  - action: utter_handoff\n",
        "  - user: quiero hablar con una persona\n  - action: action_handoff\n  - action: utter_handoff\n",
    )
    assert find_story_conflicts(_stories(fixed), domain) == []


def test_max_history_limits_the_state_compared() -> None:
    stories = _stories("""
stories:
- {story: one, steps: [{user: hola}, {action: utter_greet}, {user: ok}, {action: utter_anything_else}]}
- {story: two, steps: [{user: buenas}, {action: utter_greet}, {user: ok}, {action: utter_goodbye}]}
""")
    assert find_story_conflicts(stories) == []  # the whole history differs
    (conflict,) = find_story_conflicts(stories, max_history=1)
    assert str(conflict).startswith("Story structure conflict after user utterance 'ok':\n")


def test_many_stories_are_summarised_as_rasa_does() -> None:
    stories = [(f"s{i}", [{"user": "x"}, {"action": "utter_a" if i else "utter_b"}, {"user": f"y{i}"},
                    {"action": "utter_c"}])
               for i in range(5)]
    (conflict,) = find_story_conflicts(stories)
    assert "  utter_a predicted in 's1', 's2', and 2 other trackers\n" in str(conflict)
    assert "  utter_b predicted in 's0'\n" in str(conflict)


def test_a_conflict_on_the_first_action_is_not_reported() -> None:
    stories = [("a", [{"action": "utter_greet"}]), ("b", [{"action": "utter_goodbye"}])]
    assert find_story_conflicts(stories) == []


def test_states_put_action_listen_before_each_message_and_after_the_last_action() -> None:
    names = [action for _, action in story_states([{"user": "a"}, {"action": "utter_x"}, {"user": "b"},
                                                   {"action": "utter_y"}])]
    assert names == ["utter_x", "action_listen", "utter_y", "action_listen"]


def test_the_story_command_reports_conflicts_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "stories.yml").write_text(HANDOFF, encoding="utf-8")
    monkeypatch.setattr(story_runner, "run_stories", lambda path, out=None, interpreter=None: [])
    monkeypatch.setattr(story_runner.settings, "project_dir", lambda: ROOT)
    args = argparse.Namespace(stories=str(tmp_path / "stories.yml"), out=str(tmp_path / "results"))
    assert story_runner.test_stories_command(args) == 1
    out = capsys.readouterr().out
    assert _blocks(out.split("0 passed")[0]) == _blocks(RASA_HANDOFF)
    assert "1 story structure conflicts" in out
