"""Nothing clinical reaches WhatsApp in whole conversations: the canary and paraphrase-whitelist tests.

Every test story (tests/stories/*.yml) and a hypothesis-driven generator of random conversations (NLU
examples, inbound attacks, canary-laden messages, random unicode) run through the real processor on the
``twilio_whatsapp`` channel, with clinical fixtures carrying the canary strings of
bot/compliance/canaries.py planted in the database, on the tracker and in the patient's messages. No
outbound message may contain a canary or anything the detector flags; the paraphraser may only run for
``paraphrase: true`` responses in phases that allow it, and never sees clinical values, canaries or the
patient's text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.compliance.canaries import CANARIES
from bot.testing.stories import _turns, load_stories, strip_annotations

from .conftest import project_gate
from .conversation import (
    CANARY_MESSAGES,
    ROOT,
    Watched,
    canary_reached_gate,
    corpus,
    interleave,
    leaks,
    nlu_examples,
    plant_clinical_tables,
)

STORIES = load_stories(ROOT / "tests" / "stories")
ATTACKS = [item["text"] for item in corpus("attacks_inbound.yml")]
EXAMPLES = nlu_examples()


def _story_messages(story: dict[str, Any]) -> list[str]:
    return [strip_annotations(str(user["user"])) for user, _ in _turns(story["steps"]) if user is not None]


@pytest.fixture
def watched(app_state: Any) -> Iterator[Watched]:
    engine = app_state.services.audit.engine
    plant_clinical_tables(engine, [f"+52155{i:08d}" for i in range(1, 6)])
    yield Watched.wrap(app_state)


def test_the_sources_are_there() -> None:
    assert len(STORIES) >= 30
    assert len(ATTACKS) >= 100
    assert len(EXAMPLES) >= 200
    assert len(CANARY_MESSAGES) >= 6 * len(CANARIES)


def test_no_story_sends_a_canary_or_a_detector_hit_over_whatsapp(watched: Watched) -> None:
    """Every story twice: as written (clinical slots planted on the tracker) and with a canary-laden
    patient message after each of its turns."""
    turns = 0
    for _, story in STORIES:
        messages = _story_messages(story)
        for script in (messages, interleave(messages, CANARY_MESSAGES[len(messages) % 7 :: 5])):
            sender = watched.new_sender()
            for text in script:
                watched.say(sender, text)
                turns += 1
    assert turns >= 2 * len(STORIES)
    # most turns are answered (in handoff the assistant stays silent while a person answers)
    assert sum(len(texts) for texts in watched.outbound.values()) >= turns // 2
    assert leaks(watched, project_gate()) == []
    # Stronger than "the gate caught it": no canary even reached the gate (nothing renders one).
    assert canary_reached_gate(watched) == []
    # The stories do reach paraphrase-allowed phases, so the whitelist checks in leaks() had work to do.
    assert watched.paraphrases


_message = st.one_of(
    st.sampled_from(EXAMPLES),
    st.sampled_from(ATTACKS),
    st.sampled_from(CANARY_MESSAGES),
    st.text(min_size=1, max_size=40),
    st.builds(
        lambda a, c, b: f"{a} {c} {b}",
        st.sampled_from(EXAMPLES),
        st.sampled_from(CANARIES),
        st.sampled_from(ATTACKS),
    ),
)


@settings(
    derandomize=True,
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(conversation=st.lists(_message, min_size=1, max_size=8), seed_slots=st.booleans())
def test_random_conversations_never_send_a_canary_or_a_detector_hit(
    watched: Watched, conversation: list[str], seed_slots: bool
) -> None:
    before = len(watched.hops)
    sender = watched.new_sender(seed_slots=seed_slots)
    for text in conversation:
        watched.say(sender, text)
    assert len(watched.hops) > before
    assert leaks(watched, project_gate()) == []
    assert canary_reached_gate(watched) == []


def test_the_checks_have_teeth(watched: Watched) -> None:
    """Plant a canary in a public template value and a diagnosis in the paraphraser's answer: the same
    checks must then complain (so the tests above are not passing for want of looking)."""
    renderer = watched.state.processor.renderer
    renderer.globals["clinic_name"] = f"Consultorio {CANARIES[0]}"
    sender = watched.new_sender()
    for text in ("hola", "¿qué horario tienen?"):
        watched.say(sender, text)
    assert canary_reached_gate(watched) == ["utter_greet"]
    problems = leaks(watched, project_gate())
    assert any("canary" in p for p in problems)
