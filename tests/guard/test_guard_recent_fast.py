"""The fast paths of the recent-messages check are exact: they give what the plain two-scan reading gives.

The gate reads a message alone and joined to the tail of the previous messages. It builds the joined
views from the parts (``join_views``), scans them once and works out the message's own spans from the
same matches unless one crosses the join; value patterns are only tried where they can start. Each of
these is compared here with the straightforward computation, on messages drawn from the corpora.
"""

from __future__ import annotations

import random
from itertools import islice

from bot.guard.detector import Span
from bot.guard.gate import RECENT_TAIL_CHARS, DisclosureGate, _tail, _verdict
from bot.guard.joins import join_views, tail_views
from bot.guard.normalise import views
from bot.guard.patterns import value_patterns
from bot.guard.screen import screen

from .conftest import AGENT, corpus

EDGE = [
    "d i a", "g n o s t i c o", "y a", "a", "su prueba", "salió positiva", "diab", "etes", "glucosa",
    "180 mg/dl", "su cita de", "control prenatal", "Sobre su prueba de sangre:",
    "salió bien, no se preocupe.", "su ultrasonido", "salió normal", "d1ab*tes", "ＤＩＡＢＥＴＥＳ",
    "Su presión", "estaba en 150/95",
]


def _pool() -> list[str]:
    texts: list[str] = []
    for name in ("benign.yml", "must_block.yml", "attacks_inbound.yml"):
        for item in corpus(name):
            texts.extend(item["split"] if "split" in item else [item["text"]])
    rnd = random.Random(5)
    fragments = []
    for text in texts:
        words = text.split()
        a = rnd.randint(0, len(words))
        b = rnd.randint(a, len(words))
        if b > a:
            fragments.append(" ".join(words[a:b]))
    return texts + fragments + EDGE


POOL = _pool()


def _reference(gate: DisclosureGate, text: str, recent: list[str], patient_specific: bool) -> object:
    """The recent check read the plain way: the message alone, then head + message from scratch."""
    detector = gate._detector
    spans = detector.detect(text, patient_specific=patient_specific)
    previous = recent[-gate.policy.recent_window:]
    if previous:
        head = _tail(" ".join(previous), RECENT_TAIL_CHARS) + " "
        offset = len(head)
        seen = {(s.start, s.end, s.category) for s in spans}
        for s in detector.detect(head + text, patient_specific=patient_specific, focus_start=offset):
            moved = Span(max(s.start - offset, 0), s.end - offset, s.category, s.term)
            if (moved.start, moved.end, moved.category) not in seen:
                spans.append(moved)
                seen.add((moved.start, moved.end, moved.category))
    # what the gate screens besides clinical content (an agent wrote it), read on the message alone
    return _verdict(spans + screen(text, views(text), staff=True, links=gate.links))


def test_the_fast_recent_check_gives_the_plain_verdicts_and_spans(gate: DisclosureGate) -> None:
    rnd = random.Random(2026)
    checked = blocked = 0
    for _ in range(3000):
        text = rnd.choice(POOL)
        recent = [rnd.choice(POOL) for _ in range(rnd.randint(1, 3))]
        patient_specific = rnd.random() < 0.3
        if rnd.random() < 0.6:  # the recent messages went through the gate before: their views are cached
            for message in recent:
                gate.filter(message, channel="whatsapp", provenance=AGENT)
        result = gate.filter(text, channel="whatsapp", provenance=AGENT, patient_specific=patient_specific,
                             recent=recent)
        assert result.verdict == _reference(gate, text, recent, patient_specific), (recent, text)
        checked += 1
        blocked += result.blocked
    assert checked == 3000 and 0 < blocked < checked


def test_joined_views_are_the_views_of_the_joined_text() -> None:
    rnd = random.Random(7)
    joined = 0
    for _ in range(1500):
        a, b = rnd.choice(POOL), rnd.choice(POOL)
        both = join_views(views(a), views(b))
        if both is None:
            continue
        joined += 1
        whole = views(f"{a} {b}")
        assert both.original == whole.original
        assert both.plain == whole.plain
        assert both.squashed() == whole.squashed()
        if both.words == whole.words:  # leetspeak is undone per part: the rare "a21" token may differ
            assert both.spaced_runs == whole.spaced_runs
            for start in range(0, len(both.words), 3):
                for end in (start + 1, start + 4, len(both.words)):
                    end = min(end, len(both.words))
                    assert both.words_span(start, end) == whole.words_span(start, end)
        for start in range(0, len(both.plain), 5):
            end = min(start + 6, len(both.plain))
            assert both.plain_span(start, end) == whole.plain_span(start, end)
    assert joined > 1000


def test_tail_views_are_the_views_of_the_tail() -> None:
    cut = 0
    for text in POOL:
        full = views(text)
        for start in [i + 1 for i, ch in enumerate(text) if ch == " "]:
            tail = tail_views(full, start)
            if tail is None:
                continue
            cut += 1
            fresh = views(text[start:])
            assert (tail.original, tail.plain, tail.words) == (fresh.original, fresh.plain, fresh.words)
            assert tail.spaced_runs == fresh.spaced_runs
            assert tail.squashed() == fresh.squashed()
            for a in range(0, len(tail.words)):
                assert tail.words_span(a, min(a + 3, len(tail.words))) == fresh.words_span(
                    a, min(a + 3, len(fresh.words))
                )
            for a in range(0, len(tail.plain), 2):
                assert tail.plain_span(a, a + 1) == fresh.plain_span(a, a + 1)
    assert cut > 1000
    assert tail_views(views("x d i a g"), 4) is None  # the spaced-out run goes through the cut
    assert tail_views(views("su cita"), 2) is None  # not right after a space


def test_a_spaced_run_that_could_cross_the_join_is_left_to_a_fresh_reading() -> None:
    assert join_views(views("su d i a"), views("g n o s t i c o")) is None
    assert join_views(views("su cita"), views("g n o s t i c o")) is not None


def test_value_patterns_are_tried_only_where_they_can_start_with_the_same_matches() -> None:
    patterns = value_patterns()
    rnd = random.Random(3)
    vocabulary = [w for text in islice(POOL, 0, None, 3) for w in views(text).plain.split()]
    samples = [views(text).plain for text in POOL]
    samples += [" ".join(rnd.choice(vocabulary) for _ in range(rnd.randint(1, 12))) for _ in range(3000)]
    for plain in samples:
        fast = [(m.span(), patterns.category(m)) for m in patterns.finditer(plain)]
        slow = [(m.span(), patterns.category(m)) for m in patterns.pattern.finditer(plain)]
        assert fast == slow, plain
