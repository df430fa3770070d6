"""The readers of the answers to the reminder and to the post-visit question (bot/core/aftercare.py)."""

from __future__ import annotations

import pytest

from bot.core.aftercare import comment_like, rating, reminder_answer


@pytest.mark.parametrize("text, said", [
    ("Confirmo", "confirm"), ("sí confirmo", "confirm"), ("Sí", "confirm"), ("ok, ahí estaré", "confirm"),
    ("claro que sí, gracias", "confirm"), ("confirmado 👍", "confirm"), ("nos vemos mañana", "confirm"),
    ("Cambiar", "change"), ("mejor cámbiela", "change"), ("¿la puedo reprogramar?", None),
    ("necesito moverla a otro día", "change"), ("mejor más tarde", "change"),
    ("Cancelar", "cancel"), ("ya no voy a poder ir", "cancel"), ("no podré asistir", "cancel"),
    ("no", "cancel"), ("cancélela por favor", "cancel"), ("no puedo confirmar, ya no voy", "cancel"),
    ("¿dónde están?", None), ("gracias", None), ("", None),
])
def test_the_answer_to_a_reminder(text: str, said: str | None) -> None:
    assert reminder_answer(text) == said


@pytest.mark.parametrize("text, expected", [
    ("5", (5, False)), ("4/5", (4, False)), ("3 de 5", (3, False)), ("le doy un 2", (2, False)),
    ("⭐⭐⭐⭐", (4, False)), ("⭐⭐⭐⭐⭐ gracias", (5, False)), ("5️⃣", (5, False)), ("★★★", (3, False)),
    ("excelente", (5, False)), ("Muy bien", (5, False)), ("todo excelente, gracias", (5, False)),
    ("buena", (4, False)), ("bien", (4, False)), ("regular", (3, False)), ("mala", (2, False)),
    ("pésima atención", (1, False)), ("muy mala", (1, False)),
    ("5 estrellas, muy amables", (5, True)), ("excelente, la doctora fue muy puntual", (5, True)),
    ("no muy bien", None), ("6", None), ("10", None), ("¿5?", None), ("quiero otra cita", None),
    ("la doctora me trató bien pero esperé mucho", None),
])
def test_a_satisfaction_score(text: str, expected: tuple[int, bool] | None) -> None:
    assert rating(text) == expected


@pytest.mark.parametrize("text, comment", [
    ("la doctora me trató bien pero esperé mucho", True), ("gracias", False),
    ("quiero agendar otra cita", False), ("¿cuándo me dan mis resultados?", False),
    ("me cobraron de más en la recepción", True),
])
def test_a_comment_on_the_visit(text: str, comment: bool) -> None:
    assert comment_like(text) is comment
