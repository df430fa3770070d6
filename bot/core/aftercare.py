"""Readers of the answers to the messages sent after a booking (bot/core/expect.py picks them).

* The reminder (``utter_appointment_reminder``, quick replies "Confirmo / Cambiar / Cancelar"): a tap or a
  typed answer — "sí confirmo", "mejor cámbiela", "ya no voy a poder ir" — is ``confirm``, ``change`` or
  ``cancel``; anything else is not an answer to it (None).
* The post-visit follow-up (``utter_follow_up``): a satisfaction score 1-5 from a number ("4", "4/5",
  "5 estrellas"), a star or keycap emoji row (⭐⭐⭐⭐, 5️⃣) or the usual Spanish scale words ("excelente",
  "muy bien", "buena", "regular", "mala", "pésima"); and whether the message carries a comment besides.

Pure text functions, like bot/core/readers.py; each returns None when the text is not clearly that answer.
"""

from __future__ import annotations

import re

from bot.core.readers import fold, yes_no

# -- the reminder -----------------------------------------------------------------------------------------
_CANCEL = re.compile(
    r"\b(?:cancel\w*|anul\w*|ya no (?:voy|podre|puedo|asistire|ire|iremos|vamos)\b|"
    r"no (?:voy a|podre|puedo|podemos|vamos a) (?:poder )?(?:ir|asistir|llegar|acudir)|"
    r"no (?:asistire|ire|llego)|"
    r"no voy\b|no podre\b|no puedo ir)"
)
_CHANGE = re.compile(
    r"\b(?:cambi\w*|reprogram\w*|reagend\w*|mover\w*|muev\w*|pospon\w*|recorr\w*|otro dia|otra hora|"
    r"otra fecha|otro horario|mas tarde|mas temprano|adelant\w*)"
)
_CONFIRM = re.compile(
    r"\b(?:confirm\w*|ahi (?:estare|estaremos|nos vemos|voy)|alli estare|si (?:voy|ire|asistire|llego|"
    r"vamos)|claro que si|asistire|ire|"
    r"cuenten conmigo|nos vemos|de acuerdo|enterad[oa]|gracias por (?:el|su) "
    r"recordatorio)\b"
)
_NEGATED_CONFIRM = re.compile(r"\bno (?:puedo |podre |voy a )?confirm")


def reminder_answer(text: str) -> str | None:
    """``"confirm"``, ``"change"`` or ``"cancel"`` for an answer to the appointment reminder, else None.

    Cancelling and changing are read before confirming ("confirmo que ya no voy a poder ir" cancels); a
    question is never an answer ("¿puedo cambiar la hora?" goes to the intents, which reschedule too).
    """
    t = fold(text)
    if not t or "?" in text or "¿" in text or len(t) > 200:
        return None
    if _CANCEL.search(t) or _NEGATED_CONFIRM.search(t):
        return "cancel"
    if _CHANGE.search(t):
        return "change"
    said = yes_no(text)
    if _CONFIRM.search(t) or said == "affirm":
        return "confirm"
    if said == "deny":
        return "cancel"  # "no" to a reminder: the cancel flow asks to confirm before cancelling anything
    return None


# -- the satisfaction question ----------------------------------------------------------------------------
_STARS = re.compile("(?:\u2b50|\U0001f31f|\u2605|\u2729)")
_KEYCAP = re.compile("([1-5])\ufe0f?\u20e3")
_NUMBER = re.compile(r"^(?:le doy (?:un )?|califico con (?:un )?|mi calificacion es (?:un )?|un )?([1-5])"
                     r"(?:\s*(?:/\s*5|de\s+5|estrellas?|puntos?))?(?:\s|$)")
_WORDS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(r"^(?:muy mal[ao]?|pesim[ao]|terrible|horrible|fatal)\b")),
    (5, re.compile(r"^(?:excelente|excelentes|muy buen[ao]s?|muy bien|buenisim[ao]|perfect[ao]|increible|"
                   r"de (?:diez|10|lujo)|super bien|maravillos[ao]|genial)\b")),
    (4, re.compile(r"^(?:buen[ao]s?|bien)\b")),
    (3, re.compile(r"^(?:regular|mas o menos|normal|ahi la lleva)\b")),
    (2, re.compile(r"^(?:mal[ao]?)\b")),
)
_FILLER = re.compile(r"^(?:(?:todo|la atencion|el servicio|estuvo|fue|muy|me atendieron|gracias|muchas|"
                     r"por todo|y|la verdad|pues|de verdad|si|ok)\s*)*$")


def rating(text: str) -> tuple[int, bool] | None:
    """(score 1-5, whether a comment comes with it) for an answer to the 1-5 question, else None.

    The labels follow the usual Spanish satisfaction scale: 5 excelente / muy bien, 4 buena / bien,
    3 regular, 2 mala, 1 muy mala / pésima. "No muy bien" or a question is not a score.
    """
    if "?" in text or "¿" in text or len(text) > 600:
        return None
    stars = len(_STARS.findall(text))
    keycap = _KEYCAP.search(text)
    t = fold(text)
    t = re.sub(r"^(?:pues|la verdad|este|mmm+|todo|la atencion|el servicio|estuvo|fue|me atendieron)\s+", "",
               t)
    t = re.sub(r"^(?:estuvo|fue)\s+(?=muy|excelente|buen|bien|mal|regular|pesim)", "", t)
    score: int | None = None
    rest = t
    if 1 <= stars <= 5 and not keycap:
        score = stars
    elif keycap:
        score = int(keycap.group(1))
    elif (m := _NUMBER.match(t)) is not None:
        score, rest = int(m.group(1)), t[m.end():]
    elif not re.match(r"^(?:no|nada)\b", t):
        for value, rx in _WORDS:
            if (m := rx.match(t)) is not None:
                score, rest = value, t[m.end():]
                break
    if score is None:
        return None
    if stars or keycap:
        rest = t
    rest = rest.strip()
    comment = len(rest.split()) >= 2 and not _FILLER.match(rest)
    return score, comment


_REQUEST = re.compile(r"\b(?:citas?|agend\w*|apart\w*|reserv\w*|cancel\w*|cambi\w*|reprogram\w*|horarios?|"
                      r"precios?|cuesta|costo|direccion|ubicacion|portal|resultados?|receta)\b")


def comment_like(text: str) -> bool:
    """A message that reads as a comment on the visit: several words, not a question, no request (an
    appointment, a price, the portal...: those keep their intent, whatever the model made of them)."""
    t = fold(text)
    return len(t.split()) >= 3 and "?" not in text and "¿" not in text and not _REQUEST.search(t)
