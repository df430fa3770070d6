"""The answer to the question just asked, read before any intent policy (Rasa forms' ``requested_slot``,
Rasa Pro's ``collect``).

Every asking response declares in domain.yml what it ``expects`` (service, person, time, choice, yes_no,
consent). When the assistant's last turn ended with such a question, the patient's reply is first read as
that answer (bot/core/readers.py); only when it is clearly not one does the model's intent stand. An
emergency, an opt-out or a request for a person always keep the model's reading (their policies and the
script rank them above everything).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.core import aftercare, picks, readers
from bot.core import times as when
from bot.core.domain import Domain
from bot.core.events import BotUttered, UserUttered
from bot.core.topics import APPOINTMENT_WORDS
from bot.core.tracker import Tracker

#: Model intents a reader never overrides.
_KEEP = frozenset({"emergency", "opt_out", "arco_request", "goodbye"})
_HUMAN_WORDS = re.compile(r"\b(?:persona|humano|alguien|recepci\w*|asesor\w*|agente|operador\w*|"
                          r"secretari\w*|senorita|hablar con|platicar con|que me (?:llame\w*|marque\w*|"
                          r"hable\w*|atienda\w*)|(?:pase|paseme|pasame|pasen|comuniqueme|comunicarme|"
                          r"comunique|contacteme) con|llamada|llamar|marcar)\b")
_CHANGE = re.compile(r"\b(?:mejor|cambi\w*|en vez|siempre no|mas bien|no era|perdon|corrijo|me equivoque)\b")
_INFO_INTENTS = frozenset({"ask_services", "ask_prices", "out_of_scope", "nlu_fallback"})
_BOOKING_PHASES = ("intake", "booking", "confirmation")
#: Asking in words to be put through to a person.
_ASKS_PERSON = re.compile(r"\b(?:pase\w*|pasa\w*|comuni\w*|hablar|platicar|contact\w*|comunicar\w*) con "
                          r"(?:alguien|una persona|un humano|una persona real|recepcion|la recepcionista|"
                          r"la secretaria|un asesor|una asesora|un agente)\b")
_QUESTION = re.compile(r"\?|¿|^(?:cuanto|cuando|donde|como|que|cual|aceptan|tienen|hay)\b")


def asked(domain: Domain, tracker: Tracker) -> str | None:
    """The last asking response the assistant sent after the patient's previous message, if any."""
    for ev in reversed(tracker.events):
        if isinstance(ev, UserUttered):
            return None
        if isinstance(ev, BotUttered) and ev.response:
            spec = domain.responses.get(ev.response)
            if spec is not None and spec.expects:
                return ev.response
    return None


def expected(domain: Domain, tracker: Tracker) -> str | None:
    """What the assistant's last turn asked for: the ``expects`` of :func:`asked` (None: nothing)."""
    name = asked(domain, tracker)
    return domain.responses[name].expects if name else None


def read(domain: Domain, tracker: Tracker, parse: Mapping[str, Any], clinic: Any) -> dict[str, Any]:
    """The parse, with the intent and entities of the answer when the text answers what was asked."""
    out = _read(domain, tracker, parse, clinic)
    return _no_time_in_a_name(out, str(parse.get("text") or ""))


def _no_time_in_a_name(out: dict[str, Any], text: str) -> dict[str, Any]:
    """"Julio Alberto Vega", "mi hija Abril", "Domingo Ruiz": a name, never July, April or Sunday."""
    entities = out.get("entities") or []
    people = [e["value"] for e in entities if e.get("entity") == "person" and isinstance(e.get("value"), str)]
    names = {readers.fold(w) for person in people for w in person.split()}
    if not names:
        return out

    def in_name(ent: Mapping[str, Any]) -> bool:
        start, end = ent.get("start"), ent.get("end")
        if ent.get("entity") != "time" or not isinstance(start, int) or not isinstance(end, int):
            return False
        words = readers.fold(text[start:end]).split()
        return bool(words) and all(w in names for w in words)

    out["entities"] = [e for e in entities if not in_name(e)]
    return out


def _read(domain: Domain, tracker: Tracker, parse: Mapping[str, Any], clinic: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(parse)
    entities = [dict(e) for e in parse.get("entities") or ()]
    for ent in entities:  # entity values as clinic ids, whatever case or form the model extracted
        if ent.get("entity") == "service":
            ent["value"] = readers.normalise_service(ent.get("value"), clinic) or ent.get("value")
        elif ent.get("entity") == "person" and isinstance(ent.get("value"), str):
            ent["value"] = readers.person_name(ent["value"])  # None: "mmm" is no name (dropped below)
    entities = [e for e in entities if not (e.get("entity") == "person" and e.get("value") is None)]
    intent = str((parse.get("intent") or {}).get("name") or "nlu_fallback")
    text = str(parse.get("text") or "")
    # what the last turn asked; else the question still open (Rasa's requested_slot), e.g. after the
    # assistant answered an interruption with no question of its own ("¿cuánto dura el antibiótico?")
    question = asked(domain, tracker)  # the last asking response, read once per message
    spec = domain.responses[question] if question else None
    want = (spec.expects if spec else None) or _still_requested(tracker)
    out["asked"] = question
    folded = readers.fold(text)
    asks = intent == "book_appointment" or (
        intent in ("inform", "greet", "nlu_fallback", "affirm", "reschedule_appointment", "check_appointment",
                   "cancel_appointment")
        and APPOINTMENT_WORDS.search(folded)
    )
    corrected = _corrected_service(text, clinic) if _CHANGE.search(folded) else None
    if corrected:  # "perdón, no es ginecología, es ultrasonido": the service named after the correction
        entities = [e for e in entities if e.get("entity") != "service"]
        entities.append({"entity": "service", "value": corrected, "extractor": "expected"})
    elif not _has(entities, "service") and want != "service" and (_CHANGE.search(folded) or asks):
        # "mejor cámbielo a terapia": a new service; "kiero una sita pa mi hija con el pedia": the service
        # the model did not extract, read with the clinic's names, aliases and physicians
        named = readers.service_id(text, clinic)
        if named:
            entities.append({"entity": "service", "value": named, "extractor": "expected"})
    if (
        _has(entities, "service")
        and intent in _INFO_INTENTS
        and _CHANGE.search(folded)
        and not _QUESTION.search(folded)
        and "?" not in text
    ):
        intent = "inform"  # "mejor cámbielo a terapia": a change, not a question about services
        out["intent"] = {"name": intent, "confidence": 1.0}
    refused = want == "consent" and readers.yes_no(text, loose=True) == "deny"
    if not _has(entities, "person") and want != "person" and not refused:
        # a name the message carries with other details: "a nombre de Ana Ruiz", "Ana Ruiz, pediatría, el
        # viernes", "acepto, Ana Ruiz" — kept, so it is not asked again
        named = readers.person_in(text)
        if named is None and spec is not None and spec.also_expects == "person":  # "ACEPTO y su nombre"
            named = _invited_name(text, clinic)
        if named is None and (want == "consent" or _has(entities, "service") or _has(entities, "time")):
            named = _listed_name(text, clinic)
        if named:
            entities.append({"entity": "person", "value": named, "extractor": "expected"})
    times = [e for e in entities if e.get("entity") == "time"]
    if intent == "reschedule_appointment" and len(times) >= 2:
        # "mi cita del viernes para el lunes": the first time picks the appointment, the last is the new one
        out["appointment_times"] = times[:-1]
        times = times[-1:]
    else:
        times = when.one_time(text, times)  # "no puedo en la mañana, mejor en la tarde": the afternoon
    if times and tracker.phase in ("intake", "booking", "confirmation"):
        # "¿y a las 10?" on the day talked about; while an appointment is changed and no new day was said,
        # its own day and hour ("mejor en la tarde", "a la misma hora pero el viernes")
        changing = tracker.get_slot("booking_mode") == "reschedule"
        previous = tracker.get_slot("time") or (tracker.get_slot("appointment_start") if changing else None)
        times = [when.in_context(text, times[0], previous)]
    elif times:
        times = [{**times[0], "value": when.whole_window(times[0])}]
    entities[:] = [e for e in entities if e.get("entity") != "time"] + times
    if intent.startswith("ask_") and tracker.get_slot("service") and tracker.phase in _BOOKING_PHASES:
        # "¿cuánto cuesta el ultrasonido?" during a gynecology booking: answered, never the service booked
        entities = [e for e in entities if e.get("entity") != "service"]
    out["entities"] = entities
    if want is None or intent in _KEEP:
        return out
    if intent == "request_human" and _HUMAN_WORDS.search(folded):
        return out  # a request for a person in words; otherwise the answer's reader decides (below)
    if _ASKS_PERSON.search(folded):
        # "no me sirve ninguno, mejor páseme con alguien": a person, whatever the model or the reader says
        out["intent"] = {"name": "request_human", "confidence": 1.0}
        return out
    reader = _READERS.get(want)
    if reader is None:
        return out
    answer = reader(text, intent, entities, tracker, clinic)
    if answer is None:
        return out
    new_intent, new_entities, extra = answer
    out["entities"] = new_entities
    out.update(extra)
    out["expected"] = want
    if new_intent != intent:
        out["intent"] = {"name": new_intent, "confidence": 1.0}
        out["intent_ranking"] = [{"name": new_intent, "confidence": 1.0}]
    return out


_CORRECTED = re.compile(r"\b(?:es|era|sino|mejor|mas bien)\b")


def _corrected_service(text: str, clinic: Any) -> str | None:
    """"perdón, no es ginecología, es ultrasonido lo que necesito": the service named last after a "no"."""
    folded = readers.fold(text)
    if not re.search(r"\bno\b", folded):
        return None
    for piece in reversed(_CORRECTED.split(folded)):
        sid = readers.service_id(piece, clinic) if piece.strip() else None
        if sid:
            return sid
    return None


def _still_requested(tracker: Tracker) -> str | None:
    requested = tracker.get_slot("requested_slot")
    return requested if requested in ("service", "person", "time") else None


def _invited_name(text: str, clinic: Any) -> str | None:
    """The full name a question invited next to its main answer ("Sí acepto, Ana López"; "Ana López"
    alone): a first name and a surname at least, never with a refusal, never a service's name."""
    if readers.yes_no(text, loose=True) == "deny":
        return None
    name = readers.person_name(readers.after_yes(text))
    if name is None or len(name.split()) < 2 or readers.service_id(name, clinic) is not None:
        return None
    return name


def _listed_name(text: str, clinic: Any) -> str | None:
    """A name given as one comma-separated item of a message ("maria perez, ginecologia, pa mañana")."""
    parts = [p.strip() for p in re.split(r"[,;\n]+", text)]
    if len(parts) < 2:
        return None
    for part in parts:
        if len(part.split()) < 2 or re.search(r"\d", part) or readers.yes_no(part):
            continue
        if readers.service_id(part, clinic) is None:
            name = readers.person_name(part)
            if name and len(name.split()) >= 2:  # without "me llamo": a first name and a surname at least
                return name
    return None


Answer = tuple[str, list[dict[str, Any]], dict[str, Any]] | None


def _with(entities: list[dict[str, Any]], name: str, value: Any) -> list[dict[str, Any]]:
    kept = [e for e in entities if e.get("entity") != name]
    return [*kept, {"entity": name, "value": value, "extractor": "expected"}]


def _has(entities: list[dict[str, Any]], name: str) -> bool:
    return any(e.get("entity") == name for e in entities)


def _yes_no(text: str, intent: str, entities: list[dict[str, Any]], tracker: Tracker, clinic: Any) -> Answer:
    said = readers.yes_no(text) or ("deny" if readers.yes_no(text, loose=True) == "deny" else None)
    if said == "deny" or (said == "affirm" and not _has(entities, "time")):
        return said, entities, {}
    named = readers.person_name(text) and not _has(entities, "time")
    if said is None and intent in ("affirm", "deny") and named:
        return "nlu_fallback", entities, {}  # a name while a yes/no is pending is neither
    return None


def _consent(text: str, intent: str, entities: list[dict[str, Any]], tracker: Tracker, clinic: Any) -> Answer:
    if re.match(r"^\s*acepto\b", text, re.IGNORECASE):
        return "affirm", entities, {}
    if readers.emoji_answer(text) == "affirm":
        return "inform", entities, {}  # consent is given in words: "✅" gets the reminder to write ACEPTO
    said = readers.yes_no(text, loose=True)
    if said is not None:
        return said, entities, {}
    return None


def _service(text: str, intent: str, entities: list[dict[str, Any]], tracker: Tracker, clinic: Any) -> Answer:
    if _QUESTION.search(readers.fold(text)) and not _has(entities, "service"):
        return None
    sid = readers.service_id(text, clinic, listed=True)
    if sid is None:
        return None
    keep = intent if intent in ("book_appointment", "inform") else "inform"
    return keep, _with(entities, "service", sid), {}


def _person(text: str, intent: str, entities: list[dict[str, Any]], tracker: Tracker, clinic: Any) -> Answer:
    if intent.startswith("ask_") and ("?" in text or "¿" in text):
        return None  # a question (prices, hours, the FAQ, clinical), not a name
    name = readers.person_name(text)
    if name is None:
        return None
    return "inform", _with(entities, "person", name), {}


def _choice(text: str, intent: str, entities: list[dict[str, Any]], tracker: Tracker, clinic: Any) -> Answer:
    offers = tracker.get_slot("offers") or []
    zone = getattr(clinic, "timezone", None)
    picked = picks.choice(text, offers, zone)
    if picked is None:
        return None
    day = picks.entity_day(entities, zone) if picks.names_day(text) else None
    if isinstance(picked, int) and day is not None and day != picks.offer_day(offers[picked], zone):
        return None  # "mejor pasado mañana a las 10:30": a new day, not the offer at 10:30
    if picked == "none":
        return "deny", [e for e in entities if e.get("entity") == "time"], {}
    if picked in ("later", "earlier"):  # "¿no tiene algo más tarde?": after the last offer, that day
        kept = [e for e in entities if e.get("entity") != "time"]
        return "inform", [*kept, picks.beyond(offers, picked)], {}
    if picked == "any":  # "cualquiera": the first offer, confirmed before it is booked
        return "inform", [e for e in entities if e.get("entity") != "time"], {"choice": 0, "choice_any": True}
    return "inform", [e for e in entities if e.get("entity") != "time"], {"choice": picked}


def _time(text: str, intent: str, entities: list[dict[str, Any]], tracker: Tracker, clinic: Any) -> Answer:
    asking = _QUESTION.search(readers.fold(text)) or "?" in text
    # "el sábado a primera hora" read as a question about the hours is the day asked for; "¿a qué hora
    # abren el sábado?" is a question
    if _has(entities, "time") and (intent not in ("ask_hours", "ask_prices", "ask_location") or not asking):
        keep = intent if intent in ("book_appointment", "reschedule_appointment", "inform") else "inform"
        return keep, entities, {}
    return None


def _appointment(
    text: str, intent: str, entities: list[dict[str, Any]], tracker: Tracker, clinic: Any
) -> Answer:
    """Which of the listed appointments (actions/select.py): number, ordinal, day, hour or service."""
    choices = tracker.get_slot("appointment_choices") or {}
    ids = list(choices.get("ids") or ())
    if not ids:
        return None
    mode_intent = "cancel_appointment" if choices.get("mode") == "cancel" else "reschedule_appointment"
    offers = [{"start": s} for s in choices.get("starts") or ()]
    picked = picks.choice(text, offers, getattr(clinic, "timezone", None))
    if picked == "none":
        return None
    if isinstance(picked, int) and picked < len(ids):
        return mode_intent, [e for e in entities if e.get("entity") != "time"], {"appointment": ids[picked]}
    sid = readers.service_id(text, clinic)
    services = list(choices.get("services") or ())
    if sid and services.count(sid) == 1:
        return mode_intent, entities, {"appointment": ids[services.index(sid)]}
    if intent in ("cancel_appointment", "reschedule_appointment") or readers.yes_no(text) == "deny":
        return None
    return None


def _reminder(
    text: str, intent: str, entities: list[dict[str, Any]], tracker: Tracker, clinic: Any
) -> Answer:
    """The answer to the appointment reminder (bot/core/aftercare.py), bound to the reminded appointment."""
    reminded = tracker.get_slot("reminded_appointment")
    said = aftercare.reminder_answer(text)
    if said is None and intent in ("reschedule_appointment", "cancel_appointment"):
        said = "change" if intent == "reschedule_appointment" else "cancel"
    elif said is None and _has(entities, "time") and _CHANGE.search(readers.fold(text)):
        said = "change"  # "mejor el jueves a las 5"
    if said is None or not reminded:
        return None
    if said == "confirm":
        return "confirm_appointment", entities, {"appointment": reminded}
    if said == "cancel":
        kept = [e for e in entities if e.get("entity") != "time"]
        return "cancel_appointment", kept, {"appointment": reminded}
    return "reschedule_appointment", entities, {"appointment": reminded}


def _rating(text: str, intent: str, entities: list[dict[str, Any]], tracker: Tracker, clinic: Any) -> Answer:
    """The answer to the post-visit 1-5 question: a score (and whether a comment came with it), or a
    comment on the visit for the inbox; a new request ("quiero otra cita") keeps its intent."""
    scored = aftercare.rating(text)
    if scored is not None:
        return "rate_visit", entities, {"rating": scored[0], "comment": scored[1]}
    if aftercare.comment_like(text) and not _has(entities, "time"):
        return "comment_visit", entities, {"comment": True}
    return None


def _rebook(text: str, intent: str, entities: list[dict[str, Any]], tracker: Tracker, clinic: Any) -> Answer:
    """"Sí" to the rebooking offer after a missed appointment is a booking request."""
    if readers.yes_no(text, loose=True) == "affirm" and intent not in ("cancel_appointment",):
        return "book_appointment", entities, {}
    return None


_READERS = {
    "reminder": _reminder,
    "rating": _rating,
    "rebook": _rebook,
    "appointment": _appointment,
    "yes_no": _yes_no,
    "consent": _consent,
    "service": _service,
    "person": _person,
    "choice": _choice,
    "time": _time,
}
