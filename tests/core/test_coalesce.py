"""One turn's replies joined into fewer messages (bot/core/coalesce.py)."""

from __future__ import annotations

from bot.core.coalesce import MAX_CHARS, SEPARATOR, coalesce
from bot.core.processor import OutgoingMessage


def _ok(text: str, parts: object) -> bool:
    return True


def _msg(text: str, response: str = "utter_x", buttons: tuple = (), blocked: bool = False, to: str = "p1"):
    return OutgoingMessage(to, text, response, buttons, blocked)


def test_consecutive_texts_become_one_message_named_after_the_last() -> None:
    out = coalesce(
        [_msg("Gracias.", "utter_consent_thanks"), _msg("¿A nombre de quién?", "utter_ask_person")], _ok
    )
    assert len(out) == 1
    assert out[0].text == "Gracias." + SEPARATOR + "¿A nombre de quién?"
    assert out[0].response == "utter_ask_person"


def test_buttons_stay_at_the_end_of_a_message() -> None:
    buttons = ({"title": "1", "payload": "1"},)
    out = coalesce([_msg("Antes."), _msg("Elija:", buttons=buttons), _msg("Después.")], _ok)
    assert [m.text for m in out] == ["Antes." + SEPARATOR + "Elija:", "Después."]
    assert out[0].buttons == buttons


def test_blocked_replies_and_other_recipients_stay_apart() -> None:
    out = coalesce([_msg("a"), _msg("redirect", blocked=True), _msg("b")], _ok)
    assert len(out) == 3
    assert len(coalesce([_msg("a", to="p1"), _msg("b", to="p2")], _ok)) == 2


def test_the_joined_text_passes_the_gate_again_or_is_not_joined() -> None:
    seen: list[str] = []

    def gate(text: str, parts: object) -> bool:
        seen.append(text)
        return False

    out = coalesce([_msg("uno"), _msg("dos")], gate)
    assert [m.text for m in out] == ["uno", "dos"] and seen == ["uno" + SEPARATOR + "dos"]


def test_nothing_longer_than_the_channel_allows() -> None:
    long = "x" * (MAX_CHARS - 10)
    out = coalesce([_msg(long), _msg("y" * 20)], _ok)
    assert len(out) == 2 and all(len(m.text) <= MAX_CHARS for m in out)
