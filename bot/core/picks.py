"""Readers of a pick among things the assistant listed (bot/core/expect.py): an offered slot by number,
ordinal, hour ("la de las 9 y media"), weekday or "cualquiera"; whether a message names a day or only an
hour; the weekdays as patients type them (the time parser reads the same table). Pure text functions,
each None when the text is not clearly that kind of answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from bot.core.readers import fold, ordinal

# -- an offered slot ------------------------------------------------------------------------------------
#: Weekdays as patients type them, accents folded, with the common phone typos (b/v and s/z swapped, a
#: letter missed) — never a real word such as "bienes" or "vienes". The time parser reads the same table.
WEEKDAY_FORMS: dict[str, int] = {
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6,
    "juebes": 3, "juevez": 3, "jeves": 3, "biernes": 4, "viernez": 4, "vierns": 4, "mircoles": 2,
    "miercols": 2, "mierkoles": 2, "miecoles": 2, "miercles": 2, "savado": 5, "sabdo": 5, "sbado": 5,
    "domigo": 6, "lunez": 0, "martez": 1,
    # letters missed, doubled or left off at the end (none of them a Spanish word)
    "juves": 3, "jueve": 3, "juevs": 3, "bierns": 4, "viernees": 4, "vierne": 4, "viern": 4,
    "miercole": 2, "miercol": 2, "mierco": 2, "mierc": 2, "miercoes": 2, "sabaado": 5, "sabad": 5,
    "lune": 0, "lnes": 0, "domin": 6, "doming": 6,
}  # fmt: skip
WEEKDAY_RX = "|".join(sorted(WEEKDAY_FORMS, key=len, reverse=True))
_DAY_WORDS = ("primero|uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|trece|catorce|quince|"
              "dieciseis|diecisiete|dieciocho|diecinueve|veinte|veinti\\w+|treinta|treinta y uno")
_NAMES_DAY = re.compile(r"\b(?:" + WEEKDAY_RX + r"|hoy|pasado manana|pasadomanana|"
                        r"semana|proxim\w*|prox|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|"
                        r"octubre|noviembre|diciembre|(?:el|dia) \d{1,2}(?! ?(?::|hrs?\b|horas?\b))|"
                        # "el vie", "al sab", "pal jue": WhatsApp's short weekdays, only after an article
                        r"(?:el|este|del|al|pal|para el) (?:lun|mart?|mie|mier|jue|vie|sab|dom)|"
                        r"el (?:" + _DAY_WORDS + r")(?! (?:de la|y media|horas?))|\d{1,2}ero|"
                        r"(?:ene|feb|abr|jun|jul|ago|sept?|oct|nov|dic) \d{1,2}|"
                        r"\d{1,2} (?:de )?(?:ene|feb|abr|jun|jul|ago|sept?|oct|nov|dic))\b"
                        r"|(?<!la )(?<!de la )(?<!en la )(?<!por la )\b(?:manana|mnana|manan|maniana)\b")


def names_day(text: str) -> bool:
    """Whether a message names a day, not only an hour ("el jueves a las 10", "mañana"; not "a las 10",
    "en la mañana"): its time entity's date is meant, else the day already being talked about."""
    return bool(_NAMES_DAY.search(fold(text)))


_NONE = re.compile(r"^(?:ninguna|ninguno|ningun|ni una|otro dia|otra hora|otro horario|otra fecha|"
                   r"no me (?:acomoda|queda|sirve)|ninguna me|no puedo|otras? opcion)")


#: Leaving the pick to the assistant ("cualquiera", "la que sea", "me da igual"): the first offer, confirmed.
_ANY = re.compile(r"^(?:(?:pues|mmm|este|ok|si|va|sale)\s+)*"
                  r"(?:cualquiera|cualquier (?:hora|horario|opcion|dia)|"
                  r"la que sea|lo que sea|el que sea|me da igual|da igual|me es igual|la que (?:usted|tu) "
                  r"(?:quiera|diga|elija|guste)|la que (?:haya|tenga|este)|lo que haya|la que mejor)\b")
_EARLIEST = re.compile(r"\b(?:la|lo) mas (?:temprano|tempranito|pronto|temprana)\b|\bla primera hora\b")
_LATEST = re.compile(r"\b(?:la|lo) mas tarde\b|\bla ultima\b")
#: A pick corrected in the same message ("la 2... no perdón, la 3", "la primera, digo la segunda").
_CORRECTION = re.compile(r"\b(?:no (?:perdon|disculpe|mejor|espere)|perdon|digo|mejor dicho|no no|o sea)\b")
#: None of these, but later or earlier the same day ("¿no tiene algo más tarde?", "¿más temprano?").
_LATER = re.compile(r"(?<!\bla )(?<!\blo )\bmas (tarde|temprano|tempranito|noche)\b")
_HOUR_WORDS = {"una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
               "nueve": 9, "diez": 10, "once": 11, "doce": 12}
_CLOCK = re.compile(r"\b(?:la|el)?\s*(?:de |a )?las? (\d{1,2}|" + "|".join(_HOUR_WORDS) + r")"
                    r"(?:(?:[: ]|\s*y\s*)(\d{2}|media|cuarto)|\s+menos (cuarto|\d{1,2}))?\b")


#: Words that make an hour a bound of a window ("antes de las 4", "no antes de las 10", "hasta las 5").
_BOUND = re.compile(r"\b(?:antes|despues|dsps|desp|luego|a partir|desde|hasta|pasadas|pasando|tipo|como|"
                    r"entre|no)\s+(?:de\s+|d\s+)?(?:la|las)?\s*$|\b(?:antes|despues|a partir|desde|hasta|"
                    r"entre)\b[^,.;]*$")


def _clock(t: str) -> tuple[int, int] | None:
    """The hour and minute a folded text names as "a las 9", "la de las 9 y media", "las 10:30", "las
    nueve y cuarto", "las 11 menos cuarto" (None if none, or a day number such as "el 15" comes first)."""
    m = _CLOCK.search(t)
    if not m or re.search(r"\b(?:dia|del|el)\s+\d{1,2}\b(?! ?:)", t[: m.start()]):
        return None
    if _BOUND.search(t[: m.start() + 3]):
        return None  # "antes de las 4", "después de las 10": a window, not the offer at that hour
    raw = m.group(1)
    h = int(raw) if raw.isdigit() else _HOUR_WORDS[raw]
    after, before = m.group(2), m.group(3)
    minute = {"media": 30, "cuarto": 15, None: 0}.get(after)
    if minute is None:
        minute = int(after)
    if before:
        h, minute = (h - 1) % 12 or 12, 60 - (15 if before == "cuarto" else int(before))
    return (h, minute) if h <= 23 and minute < 60 else None


def choice(text: str, offers: Sequence[dict[str, str]], zone: Any) -> int | str | None:
    """The index of the offer picked ("2", "la segunda", "la de las 11", "la del viernes", "la más
    temprano"), "none" for "ninguna / otro día", "any" for "cualquiera / la que sea", "later" / "earlier"
    for "¿algo más tarde?" / "¿más temprano?", or None."""
    if not offers:
        return None
    t = fold(text)
    corrected = _CORRECTION.split(t)
    if len(corrected) > 1 and corrected[-1].strip():
        t = corrected[-1].strip()  # "la 2... no perdón, la 3": what comes after the correction
        text = t
    if _NONE.match(t):
        return "none"
    if _ANY.match(t):
        return "any"
    later = _LATER.search(t)
    if later and not _clock(t):
        return "later" if later.group(1) in ("tarde", "noche") else "earlier"
    starts = [datetime.fromisoformat(o["start"]).astimezone(zone) for o in offers]
    if _EARLIEST.search(t) and not _clock(t):
        return starts.index(min(starts))
    if _LATEST.search(t) and not _clock(t):
        return starts.index(max(starts))
    index = ordinal(text, limit=len(offers))
    if index is not None:
        return index
    clock = _clock(t)
    if clock is not None:
        h, minute = clock
        hits = [i for i, s in enumerate(starts) if s.hour % 12 == h % 12 and s.minute == minute]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            return None  # an hour that none of the offers has is not a pick (it may be a new time)
    days = [i for i, s in enumerate(starts) for d, n in WEEKDAY_FORMS.items()
            if s.weekday() == n and re.search(rf"\b{d}\b", t)]
    if len(days) == 1 and len(t.split()) <= 6:
        return days[0]
    return None


def beyond(offers: list[dict[str, Any]], way: str) -> dict[str, Any]:
    """A time entity for the rest of the offers' day after the last offer ("later") or before the first."""
    starts = sorted(datetime.fromisoformat(str(o["start"])) for o in offers)
    edge = starts[-1] if way == "later" else starts[0]
    midnight = edge.replace(hour=0, minute=0, second=0, microsecond=0)
    later = way == "later"
    lo, hi = (edge + timedelta(minutes=1), midnight + timedelta(days=1)) if later else (midnight, edge)
    value = {"from": lo.isoformat(timespec="milliseconds"), "to": hi.isoformat(timespec="milliseconds")}
    return {"entity": "time", "value": value, "extractor": "expected", "additional_info": {"grain": "minute"}}


def entity_day(entities: list[dict[str, Any]], zone: Any) -> date | None:
    """The clinic-local day of the message's time entity (an instant or the start of an interval)."""
    for ent in entities:
        if ent.get("entity") != "time":
            continue
        value = ent.get("value")
        if isinstance(value, Mapping):
            value = value.get("from") or value.get("to")
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            return None
        return when.astimezone(zone).date() if when.tzinfo and zone else when.date()
    return None


def offer_day(offer: Mapping[str, Any], zone: Any) -> date:
    start = datetime.fromisoformat(str(offer["start"]))
    return start.astimezone(zone).date() if zone else start.date()
