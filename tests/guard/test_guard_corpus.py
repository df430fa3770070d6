"""The corpora: every must_block message is blocked, benign logistics pass (<= 2 % false blocks)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bot.guard.gate import CLINICAL_REDIRECT, DisclosureGate

from .conftest import AGENT, corpus


def _filter(gate: DisclosureGate, item: dict[str, Any]) -> Any:
    ps = bool(item.get("patient_specific", False))
    if "split" in item:
        *recent, last = item["split"]
        return gate.filter(last, channel="whatsapp", provenance=AGENT, patient_specific=ps, recent=recent)
    return gate.filter(item["text"], channel="whatsapp", provenance=AGENT, patient_specific=ps)


def test_corpus_sizes() -> None:
    assert len(corpus("must_block.yml")) >= 150
    assert len(corpus("benign.yml")) >= 150
    assert len(corpus("attacks_inbound.yml")) >= 120


def test_every_must_block_message_is_blocked(gate: DisclosureGate) -> None:
    missed = []
    wrong_category = []
    for item in corpus("must_block.yml"):
        result = _filter(gate, item)
        if not result.blocked or result.text != CLINICAL_REDIRECT:
            missed.append(item)
        elif item["category"] not in result.verdict.categories:
            wrong_category.append((item, result.verdict.categories))
    assert missed == []
    assert wrong_category == []


def test_must_block_covers_every_category_and_both_languages() -> None:
    items = corpus("must_block.yml")
    categories = Counter(item["category"] for item in items)
    for category in ("diagnosis", "lab_result", "imaging_result", "medication", "treatment", "progress",
                     "clinical_value", "result_word", "abbreviation", "obfuscation", "sensitive_service"):
        assert categories[category] >= 1, category
    assert {item["lang"] for item in items} == {"es", "en"}
    assert sum("split" in item for item in items) >= 8


def test_benign_false_block_rate_is_at_most_two_percent(gate: DisclosureGate) -> None:
    items = corpus("benign.yml")
    false_blocks = [item["text"] for item in items if _filter(gate, item).blocked]
    assert len(false_blocks) / len(items) <= 0.02, false_blocks


def test_benign_messages_are_sent_unchanged(gate: DisclosureGate) -> None:
    for item in corpus("benign.yml")[:20]:
        result = _filter(gate, item)
        if not result.blocked:
            assert result.text == item["text"]


def test_split_pairs_need_the_earlier_messages(gate: DisclosureGate) -> None:
    """Most split items look harmless alone: the block comes from reading them together."""
    splits = [item for item in corpus("must_block.yml") if "split" in item]
    alone_allowed = [item for item in splits if gate.check(item["split"][-1]).allowed]
    assert len(alone_allowed) >= len(splits) // 2


@pytest.mark.parametrize("name", ["must_block.yml", "benign.yml", "attacks_inbound.yml"])
def test_corpus_items_are_well_formed(name: str) -> None:
    for item in corpus(name):
        assert ("text" in item) != ("split" in item), item
        assert item.get("lang") in ("es", "en"), item
        texts = item["split"] if "split" in item else [item["text"]]
        assert all(isinstance(t, str) and t.strip() for t in texts), item


def test_attacks_inbound_are_tagged() -> None:
    items = corpus("attacks_inbound.yml")
    tags = Counter(item["category"] for item in items)
    for tag in ("prompt_injection", "role_play", "authority_claim", "third_party", "encoding", "yes_no",
                "split_output"):
        assert tags[tag] >= 5, tag
    texts = [item["text"] for item in items]
    assert len(set(texts)) == len(texts)
