"""Views of two texts side by side, and of a text's tail, assembled from the views of the parts.

The gate reads each message again after the tail of the previous ones (:mod:`bot.guard.gate`): instead
of normalising that joined text afresh, its views are cut out of (``tail_views``) and joined from
(``join_views``) the cached views of each message. Wherever a cut or a join could differ from normalising
the joined text — a spaced-out run through the space, a text with other readings of ambiguous
leetspeak — these return ``None`` and the caller builds ``views()`` of the text instead.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from bot.guard.leet import undo_leet
from bot.guard.normalise import OffsetMap, Views, _from_source

__all__ = ["join_views", "tail_views"]

# A spaced-out run ("d i a g") could cross the space that joins two texts when the first ends with a
# one-letter word and the second starts with one; then the joined text gets its own views.
_SPACED_END = re.compile(r"(?<![a-z0-9])[a-z][\s.\-_*·/|,'~]{0,2}\Z")
_SPACED_START = re.compile(r"[\s.\-_*·/|,'~]{0,2}[a-z](?![a-z0-9])")


def _segments(offsets: OffsetMap | None) -> tuple[list[int], list[int]]:
    return ([0], [0]) if offsets is None else (offsets._derived, offsets._source)


def _concat(
    a: OffsetMap | None, a_len: int, a_source_len: int, b: OffsetMap | None, parent: OffsetMap | None
) -> OffsetMap | None:
    """The map of ``a_view + " " + b_view`` onto ``a_source + " " + b_source``."""
    if a is None and b is None and parent is None:
        return None
    da, sa = _segments(a)
    db, sb = _segments(b)
    derived = [*da, a_len, *(d + a_len + 1 for d in db)]
    source = [*sa, a_source_len, *(s + a_source_len + 1 for s in sb)]
    return OffsetMap(derived, source, parent)


def _local_words_map(v: Views) -> OffsetMap | None:
    """The words -> plain part of ``v.words_map`` (``None`` when words and plain have equal indices)."""
    return None if v.words_map is v.plain_map else v.words_map


def join_views(a: Views, b: Views) -> Views | None:
    """The views of ``a.original + " " + b.original`` assembled from the views of the two parts.

    Folding is per character, leetspeak per token and the deletions never cross a space, except a
    spaced-out run of one-letter words: when one could cross the join this returns ``None`` and the
    caller builds ``views()`` of the joined text instead. Otherwise the result is what the detector would
    see in each part alone, side by side, so the second part's matches are the same as its own.
    """
    if _SPACED_END.search(a.plain[-6:]) and _SPACED_START.match(b.plain):
        return None
    if a.alternates or b.alternates:  # rare (ambiguous leetspeak): the caller reads the joined text afresh
        return None
    if a.plain_map is None and b.plain_map is None:
        plain_map = None
    else:
        plain_map = _concat(a.plain_map, len(a.plain), len(a.original), b.plain_map, None)
    local_a, local_b = _local_words_map(a), _local_words_map(b)
    if local_a is None and local_b is None:
        words_map = plain_map
    else:
        words_map = _concat(local_a, len(a.words), len(a.plain), local_b, plain_map)
    shift = len(a.words) + 1
    return Views(
        f"{a.original} {b.original}",
        f"{a.plain} {b.plain}",
        plain_map,
        f"{a.words} {b.words}",
        words_map,
        (*a.spaced_runs, *((s + shift, e + shift) for s, e in b.spaced_runs)),
        (a.squashed() + b.squashed(), []),  # letters only: the join's space disappears
        decoded=a.decoded or b.decoded,
    )


def _slice_map(
    offsets: OffsetMap | None, at: int, source_at: int, parent: OffsetMap | None
) -> OffsetMap | None:
    """The map of ``view[at:]`` onto ``source[source_at:]``."""
    if offsets is None and parent is None:
        return None
    derived, source = _segments(offsets)
    k = max(bisect_right(derived, at) - 1, 0)
    return OffsetMap(
        [0, *(d - at for d in derived[k + 1:])],
        [source[k] + (at - derived[k]) - source_at, *(s - source_at for s in source[k + 1:])],
        parent,
    )


def tail_views(v: Views, start: int) -> Views | None:
    """The views of ``v.original[start:]`` cut out of ``v`` (``start`` right after a space), or ``None``
    when the normalisation of ``v`` crosses the cut (a spaced-out run through that space, or leetspeak
    undone because of a token before it); the caller then builds ``views()`` of the tail instead."""
    if start == 0:
        return v
    if v.alternates:
        return None
    if not 0 < start <= len(v.original) or v.original[start - 1] != " ":
        return None
    space = _from_source(v.plain_map, start - 1)
    if space is None or v.plain[space:space + 1] != " ":
        return None
    local = _local_words_map(v)
    word_space = _from_source(local, space)
    if word_space is None or v.words[word_space:word_space + 1] != " ":
        return None
    plain = v.plain[space + 1:]
    plain_map = None if v.plain_map is None else _slice_map(v.plain_map, space + 1, start, None)
    cut = word_space + 1
    words_map = plain_map if local is None else _slice_map(local, cut, space + 1, plain_map)
    return Views(
        v.original[start:],
        plain,
        plain_map,
        v.words[cut:],
        words_map,
        tuple((a - cut, b - cut) for a, b in v.spaced_runs if a >= cut),
        decoded=v.decoded and undo_leet(plain) is not plain,
    )
