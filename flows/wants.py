"""What the patient's words ask for, where the model is unsure or mistaken (the script applies it first).

Each rule reads the words of the message, never a single keyword alone, and only replaces an intent that
is unsure (fallback, out of scope, a greeting) or that the words contradict:

* "se puede hacer sita?", "buenos días, ando buscando cita de psiquiatría", "cita", "una consulta porfa":
  a booking request;
* "ok y ¿tienen para el lunes?" after a price: a booking request for that day;
* "quiero otra cita para mi esposo" read as a reschedule: a new booking (nothing of the patient's own
  appointment is moved without a word that says so);
* "ya no voy a poder ir el viernes", "me surgió algo", "me equivoqué de día, era el viernes" after a
  booking: a change of that appointment, never "¿algo más?";
* a bare date or service while a booking is under way: the answer to the question just asked;
* an emergency or clinical intent the safety policies did not take: a booking that mentions a condition
  when it has appointment words, else not understood.
"""

from __future__ import annotations

import re

from bot.core.dialogue import Turn
from bot.core.readers import fold
from bot.core.topics import APPOINTMENT_WORDS, HOURS, LOCATION, asks_detail, faq_topics

#: An appointment asked for in words, not one the patient has ("mi cita") nor a change or cancellation.
_WANTS_APPOINTMENT = re.compile(r"^(?!.*\b(?:mi|mis|la|su) [cs]itas?\b)"
                                r"(?!.*\b(?:cancel|cambi|mover|muev|reagend|reprogram|pospon))"
                                r".*\b(?:(?:hacer|sacar|agendar|apartar|reservar|pedir|tener|ocupo|quiero|"
                                r"necesito|quisiera|dar|dan|hay|buscando|busco|da|das|regala)\s+(?:una\s+|1\s+)?"
                                r"[cs]itas?|agend\w*|apart\w*)\b")
#: Wanting something ("quiero ponerme la vacuna"): with a service named, a request for an appointment.
_WANTS = re.compile(r"\b(?:quiero|quisiera|necesito|ocupo|busco|buscando|me gustaria|deseo|"
                    r"me (?:da|das|puede dar|regala))\b")
#: A message that is only an appointment word and politeness ("cita", "sita porfa", "una consulta").
_BARE_REQUEST = re.compile(r"^(?:(?:hola|buenas|buen dia|buenos dias|oiga|disculpe|una|un|1|para|pa|"
                           r"por favor|porfa|porfavor|xfa|plis)\s+)*(?:[cs]itas?|[ck]o[n]?sultas?|chequeo|"
                           r"revision)(?:\s+(?:por favor|porfa|porfavor|xfa|plis|medica|general))*$")
#: Asking about an appointment one has ("mi cita", "¿a qué hora es?", "la que tengo").
_OWN = re.compile(r"\b(?:mis? (?:[cs]itas?|[ck]o[n]?sultas?)|tengo|tenia|agendad\w*|cuando (?:es|era|fue)|"
                  r"a que hora (?:es|era)|confirm\w*)\b")
#: Asking whether a day has room ("¿tienen para el lunes?", "¿hay lugar mañana?", "¿le queda algo el 15?"):
#: with a day named, a booking request; "¿atienden los sábados?" (a weekday in the plural) asks the hours.
_ASKS_ROOM = re.compile(r"\b(?:tiene|tienen|hay|habra|habria|queda|quedan|le queda|tendra|tendran|alcanzo)\s+"
                        r"(?:\w+\s+)?(?:lugar|espacio|cupo|[cs]itas?|turnos?|disponib\w*|algo|chance|para|el|este|"
                        r"esta|hoy|manana)\b")
_HABITUAL = re.compile(r"\blos (?:lunes|martes|miercoles|jueves|viernes|sabados|domingos|fines)\b|"
                       r"\b(?:horarios?|a que hora|abren|cierran|atienden)\b")  # "¿qué horario tienen?"
#: An appointment word first, then its details ("cita general el sábado", "consulta pediatrica mañana").
_LEADS_WITH_APPOINTMENT = re.compile(r"^(?:(?:hola|buenas|buenos dias|buen dia|oiga|disculpe|una|un|otra|"
                                     r"quiero|ocupo|necesito)\s+)*(?:[cs]itas?|[ck]o[n]?sultas?)\b")
#: Words that change an appointment one has.
_CHANGE_WORDS = re.compile(r"\b(?:cambi\w*|mover|muev\w*|movie\w*|reagend\w*|reprogram\w*|pospon\w*|"
                           r"adelant\w*|recorr\w*|pas\w+ (?:para|al|a)|otro dia|otra fecha|otra hora|"
                           r"otro horario)\b")
#: A change of "it" — the appointment one has ("cámbiemela a las 6", "me la mueve al jueves", "pásela",
#: "pásame la de nutrición al sábado").
_CHANGE_IT = re.compile(r"\b(?:cambi|muev|mueb|pas|recorr|reagend|reprogram|adelant)[ea](?:me|nos)?la\b|"
                        r"\bme la (?:cambi|muev|pas|recorr|adelant|reagend)\w*|"
                        r"\b(?:cambi|muev|mov|pas|recorr|adelant)[ea]?(?:me)? la (?:de|del|cita|consulta)\b")
#: A new appointment ("otra cita para mi esposo", "una nueva consulta"), not a change of one's own.
_NEW_ONE = re.compile(r"\b(?:otra|nueva|una|1) (?:[cs]ita|[ck]o[n]?sulta)\b|\btambien\b")
#: Second thoughts about the appointment just booked ("mejor para el sábado a la misma hora").
_RETHINK = re.compile(r"\b(?:mejor|si mejor|misma hora|la hacemos|la dejamos|la ponemos|la cambiamos|"
                      r"la movemos|en vez|mas bien)\b")
#: Not being able to go to one's appointment, or having booked the wrong day.
_CANT_GO = re.compile(r"\b(?:(?:ya )?no (?:voy a |)(?:pod\w+|puedo|alcanzo|llego|asistir\w*|ir\b)|"
                      r"no (?:podre|podria) (?:ir|asistir|llegar)|me surgio|se me complico|"
                      r"me equivoque de (?:dia|fecha|hora)|no era (?:el|para el|ese dia))")


#: Asking to exercise a data right (ARCO: access, rectification, cancellation, opposition), in its words —
#: "¿para qué quieren mis datos?" is a question about the privacy notice, not a request to be filed.
_ARCO_WORDS = re.compile(r"\b(?:arco|acceder|acceso|rectific\w*|corrig\w*|correg\w*|actualic\w*|"
                         r"(?:borr|elimin|suprim|cancel|quit)\w* (?:mis|todos mis|los|sus|toda mi) (?:datos|"
                         r"informacion)|oponer\w*|oposicion|copia de (?:mis|los) datos|"
                         r"que datos (?:tienen|guardan)|ver mis datos|ya no usen mis datos|derechos)\b")


def asks_arco(turn: Turn) -> bool:
    return bool(_ARCO_WORDS.search(fold(turn.text)))


#: Phases with no question of the booking open: a request may start there.
IDLE_PHASES = ("greeting", "follow_up", "closed")


def _details(turn: Turn) -> bool:
    """The message names a service or a time."""
    return bool(turn.entity("service")) or turn.entity("time") is not None


def _asks_room(turn: Turn, text: str) -> bool:
    """"¿tienen para el lunes?": whether a day named has room (not "¿qué horario tienen el sábado?")."""
    return turn.entity("time") is not None and bool(_ASKS_ROOM.search(text)) and not _HABITUAL.search(text)


def asks_booking(turn: Turn) -> bool:
    """Whether the words ask for an appointment, whatever else the message asks ("¿aceptan seguro?
    quiero sacar cita con la ginecóloga")."""
    text = fold(turn.text)
    return bool(
        _WANTS_APPOINTMENT.search(text)
        or (turn.entity("service") and _WANTS.search(text))
        or _asks_room(turn, text)
        or (_details(turn) and _LEADS_WITH_APPOINTMENT.match(text))  # "cita general el jueves, ¿llevo …?"
        or (turn.entity("service") and turn.entity("time") is not None and not _HABITUAL.search(text))
    )


def also_asked(turn: Turn) -> tuple[str, ...]:
    """The answers to the questions a request also asks ("¿dónde están? y quiero cita para hoy"), first."""
    text = fold(turn.text)
    found: list[str] = []
    if faq_topics(turn.text):
        found.append("action_faq")
    if asks_detail(turn.text):
        found.append("action_service_info")
    if LOCATION.search(text):
        found.append("utter_location")
    if HOURS.search(text):
        found.append("utter_hours")
    return tuple(found)


#: Leaving for now ("mejor no, luego le escribo", "sale gracias bye", "lo pienso y le aviso").
_LEAVING = re.compile(r"\b(?:luego le (?:escribo|aviso|marco)|despues le (?:escribo|aviso|marco)|lo pienso|"
                      r"lo voy a pensar|le aviso despues|bye|bai|adios|hasta luego|nos vemos|chao|chau)\b")


def wanted(turn: Turn, phase: str, intent: str) -> str:
    """The intent the words of ``turn`` ask for, given the model's ``intent`` in ``phase``."""
    text = fold(turn.text)
    leaving = intent in ("deny", "thanks", "nlu_fallback", "out_of_scope", "affirm") and _LEAVING.search(text)
    if leaving and not (turn.entity("time") or turn.entity("service")):
        return "goodbye"
    answering = phase in ("intake", "booking", "confirmation")
    if intent in ("out_of_scope", "nlu_fallback") and answering and _details(turn):
        return "inform"  # a bare date or service is an answer to the question we just asked
    idle = phase in IDLE_PHASES
    asks = bool(
        _WANTS_APPOINTMENT.search(text)
        or _BARE_REQUEST.match(text)
        or (turn.entity("service") and _WANTS.search(text))
    )
    if idle and intent in ("nlu_fallback", "greet", "out_of_scope") and asks:
        return "book_appointment"  # "se puede hacer sita?", "cita", "ando buscando cita de psiquiatría"
    unsure = intent in ("nlu_fallback", "out_of_scope", "greet")
    if idle and unsure and _details(turn) and _LEADS_WITH_APPOINTMENT.match(text):
        return "book_appointment"  # "cita general el sábado"
    polite = intent in ("affirm", "thanks")
    if idle and polite and (_BARE_REQUEST.match(text) or _WANTS_APPOINTMENT.search(text)):
        return "book_appointment"  # "cita porfa", "ok está bien, ¿me la agenda?"
    if idle and intent == "check_appointment" and turn.entity("service") and not _OWN.search(text):
        return "book_appointment"  # "cita pa mi hija de 14 con la gine": a new one, not one she has
    room_intents = ("nlu_fallback", "greet", "out_of_scope", "ask_hours", "inform", "affirm")
    if idle and intent in room_intents and _asks_room(turn, text):
        return "book_appointment"  # "ok y ¿tienen para el lunes?" after a price: a request for that day
    if intent == "reschedule_appointment" and _NEW_ONE.search(text) and not _CHANGE_WORDS.search(text):
        return "book_appointment"  # "quiero otra cita para mi esposo, también general"
    loose = intent in ("inform", "book_appointment", "nlu_fallback", "out_of_scope")
    if idle and loose and _CHANGE_IT.search(text):
        return "reschedule_appointment"  # "mejor cámbiemela a las 6 de la tarde"
    just_booked = phase == "follow_up" and turn.slot("appointment_id")
    if just_booked and loose and turn.entity("time") is not None and _RETHINK.search(text):
        return "reschedule_appointment"  # right after booking: "y si mejor la hacemos a las 6 de la tarde?"
    if idle and intent in ("deny", "out_of_scope", "nlu_fallback", "inform") and _CANT_GO.search(text):
        return "reschedule_appointment"  # "ya no voy a poder ir el viernes": change it (or cancel it)
    if intent in ("emergency", "ask_clinical_info"):
        # the emergency / clinical policy did not take it: a booking that mentions a condition, or an
        # unsure model on something else ("se puede hacer sita?")
        return "book_appointment" if APPOINTMENT_WORDS.search(text) else "nlu_fallback"
    return intent
