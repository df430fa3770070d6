"""The suite's figures, and the report ``bench/patients.py`` prints.

* completion rate: the goal checked in the database (issue 17 target: ≥ 0.99)
* mean patient messages to book: messages sent up to the one after which the assistant said the booking
  was made, over completed bookings (target ≤ 5.0)
* mean assistant messages per booking: outbound messages up to and including that reply
* triple repeats: conversations where one reply ended three turns in a row, word for word (target 0)
* stuck: conversations that reached the turn cap
* wrong day/time: an appointment booked on another day, or at another time although the wanted one was free
* garbled name: booked, but under "a nombre de Ana Ruiz", "Ana Ruiz, para el jueves"... (not a failure)
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.patients.simulator import TURN_CAP, Conversation
from tests.patients.when import date_words

TARGET_COMPLETION = 0.99
TARGET_MESSAGES_TO_BOOK = 5.0
TARGET_TRIPLE_REPEATS = 0


@dataclass
class Figures:
    patients: int
    completed: int
    completion: float
    messages_to_book: float | None
    assistant_per_booking: float | None
    assistant_per_conversation: float
    triple_repeats: int
    stuck: int
    wrong_day_time: int
    wrong_name: int
    by_goal: dict[str, tuple[int, int]] = field(default_factory=dict)  # goal -> (completed, total)
    failures: Counter[str] = field(default_factory=Counter)
    incidents: Counter[str] = field(default_factory=Counter)  # conversations with at least one
    examples: dict[str, Conversation] = field(default_factory=dict)
    fatal_kinds: set[str] = field(default_factory=set)


def figures(conversations: Sequence[Conversation]) -> Figures:
    n = len(conversations)
    completed = [c for c in conversations if c.completed]
    bookings = [c for c in completed if c.patient.books and c.done_at is not None]
    by_goal: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures: Counter[str] = Counter()
    incidents: Counter[str] = Counter()
    examples: dict[str, Conversation] = {}
    fatal_kinds: set[str] = set()
    for c in conversations:
        by_goal[c.patient.goal][1] += 1
        by_goal[c.patient.goal][0] += int(c.completed)
        for kind in {i.kind for i in c.incidents}:
            incidents[kind] += 1
        fatal_kinds.update(i.kind for i in c.incidents if i.fatal)
        failure = c.failure
        if failure:
            failures[failure] += 1
            if failure not in examples or len(c.turns) < len(examples[failure].turns):
                examples[failure] = c  # the shortest example
    wrong = sum(1 for c in conversations if c.verdict and c.verdict.outcome in ("wrong_day", "wrong_time"))
    return Figures(
        patients=n,
        completed=len(completed),
        completion=len(completed) / n if n else 0.0,
        messages_to_book=statistics.fmean(c.done_at or 0 for c in bookings) if bookings else None,
        assistant_per_booking=statistics.fmean(c.outbound_at_done or 0 for c in bookings)
        if bookings
        else None,
        assistant_per_conversation=statistics.fmean(c.outbound for c in conversations) if n else 0.0,
        triple_repeats=sum(1 for c in conversations if c.triple),
        stuck=sum(1 for c in conversations if c.stuck),
        wrong_day_time=wrong,
        wrong_name=sum(1 for c in conversations if c.verdict and not c.verdict.name_ok),
        by_goal={g: (v[0], v[1]) for g, v in sorted(by_goal.items())},
        failures=failures,
        incidents=incidents,
        examples=examples,
        fatal_kinds=fatal_kinds,
    )


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def report(f: Figures, show: int = 0, top: int = 12) -> str:
    lines = [
        f"patients                          {f.patients}",
        f"completion rate                   {f.completion:.3f}  ({f.completed}/{f.patients})"
        f"   target ≥ {TARGET_COMPLETION}",
        "  by goal                         "
        + ", ".join(f"{g} {done}/{total}" for g, (done, total) in f.by_goal.items()),
        f"mean patient messages to book     {_num(f.messages_to_book)}   target ≤ {TARGET_MESSAGES_TO_BOOK}",
        f"mean assistant messages/booking   {_num(f.assistant_per_booking)}",
        f"mean assistant messages/convers.  {_num(f.assistant_per_conversation)}",
        f"triple repeats (same prompt 3x)   {f.triple_repeats}   target {TARGET_TRIPLE_REPEATS}",
        f"stuck (turn cap {TURN_CAP})             {f.stuck}",
        f"booked the wrong day/time         {f.wrong_day_time}",
        f"booked under a garbled name       {f.wrong_name}   (counted as completed)",
        "",
        "failures by class (outcome / cause: what ended it, else the first thing that went wrong)",
    ]
    for failure, count in f.failures.most_common(top):
        lines.append(f"  {count:4d}  {failure}   e.g. {f.examples[failure].patient.id}")
    if not f.failures:
        lines.append("  none")
    lines += ["", "incidents (conversations with at least one; * = can explain a failure)"]
    for kind, count in f.incidents.most_common():
        lines.append(f"  {count:4d}  {kind}{' *' if kind in f.fatal_kinds else ''}")
    for failure, _ in f.failures.most_common(show):
        lines += ["", f"== {failure}", transcript(f.examples[failure])]
    return "\n".join(lines)


def transcript(c: Conversation) -> str:
    p = c.patient
    want = c.want or p.final_want
    window = f"{want.window[0] // 60:02d}:{want.window[0] % 60:02d}-{want.window[1] // 60:02d}:" \
        f"{want.window[1] % 60:02d}" if want.window else "any time"  # fmt: skip
    lines = [
        f"{p.id} · {p.describe()}",
        f"  wants {want.service} {date_words(want.day)} ({window}) · for {p.name!r}"
        + (f" ({p.relation})" if p.relation else ""),
    ]
    if p.changed is not None:
        lines.append(f"  first wanted {p.want.service} {date_words(p.want.day)} ({p.want.when!r})")
    for i, turn in enumerate(c.turns, 1):
        lines.append(f"  {i:2d} patient: {turn.text}    [{turn.act}; intent {turn.intent}]")
        for r in turn.replies:
            text = r.text.replace("\n", " / ")
            lines.append(f"       bot {r.response}: {text[:220]}{'…' if len(text) > 220 else ''}")
    for incident in c.incidents:
        flag = "!" if incident.fatal else "·"
        lines.append(f"  {flag} turn {incident.turn}: {incident.kind} — {incident.detail}")
    if c.verdict:
        lines.append(f"  => {c.verdict.outcome}: {c.verdict.detail}  (ended: {c.ended})")
    return "\n".join(lines)
