"""Canonical views and their offset maps."""

from __future__ import annotations

import pytest

from bot.guard.normalise import canonical_term, fold_plain, views


def test_ascii_fast_path_keeps_offsets() -> None:
    plain, offsets = fold_plain("Su Cita ES Mañana")
    assert plain == "su cita es manana"
    assert offsets is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("D1AGNÓSTICO", "dıagnostico"),  # "ı": a character drawn as both i and l (the lexicon reads both)
        ("d.i.a.g.n.o.s.t.i.c.o", "diagnostico"),
        ("d i a g n", "diagn"),
        ("v\u200bi\u200bh", "vih"),
        ("ｖｉｈ", "vih"),
        ("diaaabetes", "diabetes"),
        ("di*abe_tes", "diabetes"),
        ("НbА1c", "hbaıc"),
        ("850mg", "850mg"),
        ("a las 10:30", "a las 10:30"),
        ("$600", "$600"),
    ],
)
def test_words_view(text: str, words: str) -> None:
    assert views(text).words == words


def test_offsets_survive_deletions_and_expansions() -> None:
    text = "ﬁ x \u200bd.i.a.g.n \u00df diabe\u0301tes"
    v = views(text)
    start = v.words.index("diabetes")
    a, b = v.words_span(start, start + len("diabetes"))
    assert text[a:b] == "diabe\u0301tes"
    start = v.words.index("diagn")
    a, b = v.words_span(start, start + 5)
    assert text[a:b] == "d.i.a.g.n"


def test_squashed_view_and_span() -> None:
    text = "su diab etes"
    v = views(text)
    assert v.squashed() == "sudiabetes"
    a, b = v.squashed_span(2, 10)
    assert text[a:b] == "diab etes"


def test_canonical_term() -> None:
    assert canonical_term("Diagnóstic*") == "diagnostic*"
    assert canonical_term("BI-RADS") == "bi rads"
    assert canonical_term("HbA1c") == "hbaic"
    assert canonical_term("  ") == ""
