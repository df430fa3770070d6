"""What simulated patients say: Mexican WhatsApp Spanish, written by hand for this suite (synthetic).

Registers: ``formal`` (usted, whole sentences), ``short`` (the fewest words), ``colloquial`` ("sale",
"pedia", "porfa"). Orthographies (applied by :func:`write`): ``clean``, ``no_accents``, ``caps``,
``lower`` (no capitals, no final punctuation) and ``typos`` ("kiero una sita", "juebes", "xfa").
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

REGISTERS = ("formal", "short", "colloquial")
ORTHOGRAPHIES = ("clean", "clean", "no_accents", "caps", "lower", "typos", "typos")


@dataclass(frozen=True)
class ServiceWords:
    """How patients name one service of clinic.yml."""

    answers: dict[str, tuple[str, ...]]  # register -> answers to "¿qué tipo de consulta necesita?"
    noun: tuple[str, ...]  # fits "una cita de {noun}"
    con: tuple[str, ...]  # fits "cita {con}"
    conditions: tuple[str, ...] = ()  # a request that mentions a condition ("tengo diabetes y …")


SERVICES: dict[str, ServiceWords] = {
    "consulta_general": ServiceWords(
        answers={
            "formal": ("Consulta de medicina general", "Medicina general, por favor"),
            "short": ("general", "medicina general", "consulta general"),
            "colloquial": ("la general", "con el médico general", "una consulta normal", "la normal porfa"),
        },
        noun=("medicina general",),
        con=("con el médico general", "de medicina general"),
        conditions=(
            "tengo diabetes y quiero mi cita de control",
            "tengo la presión alta y quiero una consulta general",
            "ando con gripa desde el viernes, ocupo una consulta general",
            "me duele mucho la garganta, quiero cita con el médico general",
        ),
    ),
    "pediatria": ServiceWords(
        answers={
            "formal": ("Consulta de pediatría", "Pediatría, por favor"),
            "short": ("pediatría", "pediatra"),
            "colloquial": ("pedia", "con el pediatra", "el pediatra porfa", "la de pediatría"),
        },
        noun=("pediatría",),
        con=("con el pediatra", "de pediatría"),
        conditions=(
            "mi niño tiene tos, quiero cita con el pediatra",
            "a mi hija le salió un sarpullido, ocupo cita de pediatría",
        ),
    ),
    "ginecologia": ServiceWords(
        answers={
            "formal": ("Consulta de ginecología",),
            "short": ("ginecología", "ginecólogo"),
            "colloquial": ("gineco", "con la ginecóloga", "la ginecóloga porfa"),
        },
        noun=("ginecología",),
        con=("con la ginecóloga", "de ginecología"),
        conditions=("me toca mi papanicolaou, quiero cita con la ginecóloga",),
    ),
    "control_prenatal": ServiceWords(
        answers={
            "formal": ("Control prenatal",),
            "short": ("control prenatal", "prenatal"),
            "colloquial": ("control del embarazo", "lo del control del embarazo"),
        },
        noun=("control prenatal",),
        con=("de control prenatal", "para control del embarazo"),
        conditions=("estoy embarazada de tres meses y quiero agendar mi control prenatal",),
    ),
    "ultrasonido": ServiceWords(
        answers={
            "formal": ("Ultrasonido, por favor",),
            "short": ("ultrasonido", "un ultrasonido"),
            "colloquial": ("un ultra", "el ultrasonido porfa"),
        },
        noun=("ultrasonido",),
        con=("para un ultrasonido", "de ultrasonido"),
    ),
    "nutricion": ServiceWords(
        answers={
            "formal": ("Consulta de nutrición",),
            "short": ("nutrición", "nutrióloga"),
            "colloquial": ("la nutrióloga", "con la nutri", "nutrición porfa"),
        },
        noun=("nutrición",),
        con=("con la nutrióloga", "de nutrición"),
        conditions=(
            "tengo diabetes y quiero cita con la nutrióloga",
            "quiero bajar de peso, me dan cita con la nutrióloga?",
        ),
    ),
    "certificado_medico": ServiceWords(
        answers={
            "formal": ("Certificado médico",),
            "short": ("certificado", "certificado médico"),
            "colloquial": ("un certificado pa la escuela", "el certificado médico porfa"),
        },
        noun=("certificado médico",),
        con=("para certificado médico", "para un certificado médico"),
    ),
    "vacunacion": ServiceWords(
        answers={
            "formal": ("Aplicación de vacunas",),
            "short": ("vacuna", "vacunas"),
            "colloquial": ("la vacuna de la influenza", "pa la vacuna"),
        },
        noun=("vacunación",),
        con=("para la vacuna", "para vacuna de la influenza"),
        conditions=("soy diabético y quiero ponerme la vacuna de la influenza",),
    ),
    "psiquiatria": ServiceWords(
        answers={
            "formal": ("Consulta de psiquiatría",),
            "short": ("psiquiatría", "psiquiatra"),
            "colloquial": ("con el psiquiatra", "el psiquiatra porfa"),
        },
        noun=("psiquiatría",),
        con=("con el psiquiatra", "de psiquiatría"),
        conditions=("tengo mucha ansiedad y quiero una cita con el psiquiatra",),
    ),
    "psicologia": ServiceWords(
        answers={
            "formal": ("Terapia psicológica",),
            "short": ("psicología", "terapia"),
            "colloquial": ("con el psicólogo", "una terapia porfa"),
        },
        noun=("terapia psicológica", "psicología"),
        con=("con el psicólogo", "de terapia"),
        conditions=("ando con depresión y quiero agendar terapia",),
    ),
}

GREETINGS_DAY = ("hola", "Hola buenos días", "buen día", "buenas", "holaaa", "qué tal, buenos días", "Hola!")
GREETINGS_NIGHT = ("hola", "buenas noches", "Hola, buenas noches", "buenas", "holaaa")

REQUEST_PLAIN = (
    "quiero agendar una cita",
    "quisiera una cita",
    "ocupo una cita",
    "necesito una cita",
    "me puede agendar una cita porfa",
    "agéndeme con la doctora porfa",
    "quiero sacar cita",
    "se puede hacer cita?",
    "quiero apartar una consulta",
)
REQUEST_SERVICE = (
    "quiero una cita {con}",
    "ando buscando cita {con}",
    "ocupo cita {con}",
    "necesito una cita de {noun}",
    "quisiera agendar una consulta de {noun}",
    "me da cita {con}?",
)
REQUEST_FULL = (
    "quiero una cita de {noun} {when}, a nombre de {name}",
    "hola, ocupo cita {con} {when}. Soy {name}",
    "Buenas tardes, me gustaría agendar una consulta de {noun} para {when}. Mi nombre es {name}.",
    "{name}, {noun}, {when}",
    "cita {con} {when} porfa, a nombre de {name}",
)
REQUEST_FULL_RELATION = (
    "quiero cita {con} {when} para mi {relation} {name}",
    "ocupo cita de {noun} {when}, es para mi {relation}, se llama {name}",
)

RESCHEDULE_OPENINGS = (
    "quiero cambiar mi cita",
    "hola, necesito reagendar mi cita",
    "¿se puede mover mi cita?",
    "no voy a poder ir a mi cita, me la cambian?",
    "buenas, quiero cambiar la cita de {old}",
)
RESCHEDULE_WITH_WHEN = (
    "necesito mover mi cita para {when}",
    "hola, ¿me pueden cambiar la cita para {when}?",
    "quiero cambiar mi cita de {old} para {when}",
)
CANCEL_OPENINGS = (
    "quiero cancelar mi cita",
    "ya no voy a poder ir, cancélenme la cita porfa",
    "hola, ¿me ayuda a cancelar mi cita?",
    "buenas tardes, cancelo mi cita de {old}",
    "nel, ya no voy a ir, cancela la cita de {old} porfa",
)

#: ask_then_book openings per topic; {noun}/{con} are the service the patient will book.
QUESTIONS = {
    "price": (
        "¿cuánto cuesta la consulta de {noun}?",
        "cuanto sale la cita {con}?",
        "Buenas tardes, ¿qué precio tiene la consulta de {noun}?",
    ),
    "hours": ("hola, ¿qué horario tienen?", "¿a qué hora abren?", "¿abren los sábados?"),
    "address": ("¿dónde están?", "buenas, ¿me pasa la dirección?", "¿dónde queda el consultorio?"),
    "payment": ("¿aceptan tarjeta?", "hola, ¿se puede pagar con tarjeta?", "¿reciben transferencia?"),
}
#: Questions that interrupt a booking, asked about the service being booked.
INTERRUPTIONS = {
    "price": ("¿cuánto cuesta?", "oiga, ¿y cuánto cuesta la consulta?", "cuanto sale?"),
    "payment": ("¿aceptan tarjeta?", "¿puedo pagar con tarjeta?"),
    "hours": ("¿a qué hora abren?", "¿qué horario tienen?"),
    "address": ("¿dónde están ubicados?", "¿cuál es la dirección?"),
    "duration": ("¿cuánto dura la consulta?",),
    "physician": ("¿con qué doctor sería?", "¿quién me atendería?"),
}
#: After the answer to an ask_then_book question: the booking request.
FOLLOW_UPS = (
    "ok, entonces quiero una cita",
    "va, ¿me agenda una cita?",
    "gracias. Quiero una cita {con}",
    "sale, quiero una cita de {noun} {when}",
)

YES = {
    "formal": ("Sí, por favor", "Sí, está bien", "Correcto, gracias", "Sí, confirmo"),
    "short": ("sí", "si", "ok", "sip"),
    "colloquial": ("sale", "va", "órale", "simón", "va que va", "sale, gracias", "ándale", "sí porfa"),
}
NO = {
    "formal": ("No, gracias",),
    "short": ("no", "nop"),
    "colloquial": ("nel", "mejor no", "no gracias"),
}
CONSENT = {
    "formal": ("Acepto", "Sí, acepto"),
    "short": ("acepto", "ACEPTO", "si"),
    "colloquial": ("va, acepto", "sale", "acepto porfa", "órale, acepto", "simón"),
}
PICK = {
    "formal": ("La opción {n}, por favor", "La {ordinal}, por favor"),
    "short": ("{n}",),
    "colloquial": (
        "la {ordinal}",
        "la {ordinal} opción",
        "la de las {hour}",
        "la del {weekday}",
        "el {n} porfa",
    ),
}
ORDINALS = ("primera", "segunda", "tercera")
REJECT = (
    "ninguna, ¿tiene {when}?",
    "no me quedan, mejor {when}",
    "ninguna de esas, ¿no hay {when}?",
)
WRONG_CONFIRM = ("no, yo quería {when}", "no, así no. {when} porfa", "nel, es {when}")
CHANGE_DAY = ("mejor {when}", "siempre no, mejor {when}", "oiga, ¿y si mejor {when}?", "perdón, mejor {when}")
CHANGE_SERVICE = (
    "siempre no, mejor {con}",
    "perdón, mejor que sea de {noun}",
    "oiga, mejor cámbielo a {noun}",
)
NAME_STYLES = ("bare", "me_llamo", "a_nombre", "soy", "caps", "lower", "three_words")
NAME_TEMPLATES = {
    "bare": "{name}",
    "me_llamo": "me llamo {name}",
    "a_nombre": "a nombre de {name}",
    "soy": "Soy {name}",
    "caps": "{name}",
    "lower": "{name}",
    "three_words": "{name}",
}
RELATION_TEMPLATES = (
    "es para mi {relation} {name}",
    "para mi {relation}, se llama {name}",
    "{name}, es mi {relation}",
)
RELATIONS = {
    "hija": "daughter", "hijo": "son", "mamá": "mother", "papá": "father",
    "esposo": "husband", "esposa": "wife",
}  # fmt: skip
RELATIONS_F = ("hija", "mamá", "esposa")
RELATIONS_M = ("hijo", "papá", "esposo")
FIRST_NAMES_F = (
    "Ana", "María", "Guadalupe", "Fernanda", "Sofía", "Daniela", "Valeria", "Ximena", "Paola", "Regina",
    "Lucía", "Brenda", "Itzel", "Rocío", "Citlali", "Karla", "Mónica", "Alondra", "Yesenia", "Renata",
)  # fmt: skip
FIRST_NAMES_M = (
    "Luis", "José", "Juan", "Carlos", "Miguel", "Jorge", "Ricardo", "Alejandro", "Eduardo", "Arturo",
    "Héctor", "Iván", "Óscar", "Emilio", "Raúl", "Fernando", "Mateo", "Diego", "Santiago", "Joel",
)  # fmt: skip
SURNAMES = (
    "Hernández", "García", "Martínez", "González", "Pérez", "Rodríguez", "Sánchez", "Ramírez", "Cruz",
    "Flores", "Gómez", "Morales", "Vázquez", "Jiménez", "Reyes", "Díaz", "Torres", "Gutiérrez", "Mendoza",
    "Aguilar", "Ortiz", "Domínguez", "Salazar", "Núñez", "Cervantes", "Olvera", "Zúñiga", "Treviño",
)  # fmt: skip

WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
    "noviembre", "diciembre",
)  # fmt: skip

# -- writing: orthography ---------------------------------------------------------------------------

_TYPOS = (
    (r"\bquiero\b", "kiero"),
    (r"\bquisiera\b", "kisiera"),
    (r"\bcita\b", "sita"),
    (r"\bpor favor\b", "xfa"),
    (r"\bporfa\b", "porfas"),
    (r"\bpara\b", "pa"),
    (r"\bque\b", "q"),
    (r"\bqué\b", "q"),
    (r"\bjueves\b", "juebes"),
    (r"\bviernes\b", "biernes"),
    (r"\bmiércoles\b", "miercoles"),
    (r"\bsábado\b", "sabado"),
    (r"\bmañana\b", "mañna"),
    (r"\bconsulta\b", "cosulta"),
    (r"\bnecesito\b", "nesecito"),
    (r"\bpediatra\b", "pedriatra"),
    (r"\bnutrióloga\b", "nutriologa"),
    (r"\bginecóloga\b", "ginecologa"),
    (r"\bgracias\b", "grax"),
    (r"\bhola\b", "ola"),
    (r"\bsí\b", "si"),
)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def normalise(text: str) -> str:
    """Lower case, no accents, letters and digits only, single spaces (for comparing names)."""
    plain = strip_accents(text).casefold()
    return " ".join(re.sub(r"[^0-9a-zñ ]+", " ", plain).split())


def write(text: str, orthography: str, rng: random.Random, keep: Sequence[str] = ()) -> str:
    """``text`` as this patient types it. ``keep``: substrings (names) that get no typos."""
    if orthography == "clean":
        return text
    if orthography == "caps":
        return text.upper()
    if orthography == "no_accents":
        return strip_accents(text)
    if orthography == "lower":
        return strip_accents(text).lower().rstrip(".!?¿¡ ").replace("¿", "").replace("¡", "")
    # typos: a few of the usual substitutions, never inside a name
    parts = _split_keep(text, keep)
    out = []
    for chunk, protected in parts:
        if not protected:
            for pattern, repl in _TYPOS:
                if rng.random() < 0.6:
                    chunk = re.sub(pattern, repl, chunk, flags=re.IGNORECASE)
            chunk = strip_accents(chunk) if rng.random() < 0.5 else chunk
            chunk = chunk.replace("¿", "")
        out.append(chunk)
    return "".join(out).lower() if rng.random() < 0.7 else "".join(out)


def _split_keep(text: str, keep: Sequence[str]) -> list[tuple[str, bool]]:
    keep = [k for k in keep if k and k in text]
    if not keep:
        return [(text, False)]
    pattern = "(" + "|".join(re.escape(k) for k in sorted(keep, key=len, reverse=True)) + ")"
    return [(piece, i % 2 == 1) for i, piece in enumerate(re.split(pattern, text)) if piece]
