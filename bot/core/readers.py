"""Readers of an answer to a question the assistant just asked (bot/core/expect.py picks the reader).

Pure text functions: yes/no in Mexican forms, a personal name with or without "me llamo / a nombre de /
es para mi hija", a service by name, colloquial alias (bot/core/data/service_aliases.yml), physician,
specialty or number of the listed option (fuzzy, typos tolerated), and an offered slot by number,
ordinal, hour or weekday (bot/core/picks.py). Each returns None when the text is not clearly that kind of
answer.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from bot.config_files import load_mapping
from bot.core.names import person_in as person_in  # re-exported: callers read names with readers.*
from bot.core.names import person_name as person_name


def fold(text: str) -> str:
    """Lower case, no accents, punctuation to spaces, whitespace collapsed."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    plain = re.sub(r"[^\w\s]", " ", plain.casefold())
    return " ".join(plain.split())


# -- yes / no -------------------------------------------------------------------------------------------
_YES = (
    r"si+|sip|sii+|simon|sale|va|vale|ok|okay|oki|okey|claro|correcto|perfecto|de acuerdo|orale|andale|"
    r"esta bien|adelante|por supuesto|confirmo|confirmado|afirmativo|exacto|asi es|eso|me parece bien|"
    r"me late|yes|yep|sure|dale|listo|bien|excelente|de una|sale y vale|si por favor|porfa si|acepto|"
    r"esta perfecto|muy bien|me parece|ese|esa|esa mero|ese mero|si esa|si ese|seguro|obvio|neta si"
)
_NO = (
    r"no+|nel|nop|nope|nel pastel|mejor no|para nada|negativo|ninguna|ninguno|todavia no|aun no|"
    r"no gracias|no por ahora|ahorita no|no quiero|no acepto|tampoco|no es correcto|no esta bien|siempre no|"
    r"mejor ya no|ya no"
)
_YES_RX = re.compile(rf"^(?:{_YES})\b")
_NO_RX = re.compile(rf"^(?:{_NO})\b")
_TAIL_OK = re.compile(
    r"^(?:(?:gracias|muchas gracias|por favor|porfa|porfavor|senorita|senor|doctora?|amigo|joven|"
    r"asi|perfecto|claro|esta bien|bien|muy amable|de acuerdo|adelante|agendela|agendala|confirmo|"
    r"confirmela|hagalo|ok|va|sale|si|no|gracias a usted|grax|gracia|xfa|plis|please|thx|muchas gracias|"
    r"mil gracias|se lo agradezco|esta bien asi|asi esta bien)\s*)*$"
)


#: A reply that is only emoji: 👍 ✅ 👌 for yes, 👎 ❌ for no (skin tones and variation selectors ignored).
_EMOJI_YES = frozenset("👍✅👌🙌✔☑🆗🤝💯")
_EMOJI_NO = frozenset("👎❌✖🚫🙅")
_EMOJI_NOISE = re.compile(r"[\s\ufe0f\u200d\U0001F3FB-\U0001F3FF]+")


def emoji_answer(text: str) -> str | None:
    """'affirm' / 'deny' for a message made only of yes / no emoji."""
    marks = set(_EMOJI_NOISE.sub("", text))
    if marks and marks <= _EMOJI_YES:
        return "affirm"
    if marks and marks <= _EMOJI_NO:
        return "deny"
    return None


def yes_no(text: str, *, loose: bool = False) -> str | None:
    """'affirm', 'deny' or None. Strict: the message is only the yes/no (thanks, "por favor" may follow);
    ``loose``: a leading yes/no followed by other details (consent: "sale, es para mañana"); emoji alone
    (👍, ✅, 👎) count."""
    emoji = emoji_answer(text)
    if emoji is not None:
        return emoji
    t = fold(text)
    if not t:
        return None
    for kind, rx in (("deny", _NO_RX), ("affirm", _YES_RX)):
        m = rx.match(t)
        if m is None:
            continue
        rest = t[m.end():].strip()
        if kind == "affirm" and re.match(r"^no\b", rest):
            return None  # "sí, no..." contradictory
        if not rest or _TAIL_OK.match(rest) or loose:
            return kind
        return None
    return None


_LEADING_YES = re.compile(
    r"^[\W_]*(?:(?:s[ií]+|ok|okey|oki|va|sale|claro|de acuerdo|est[aá] bien|perfecto|listo|acepto|aceptamos|"
    r"yo acepto|gracias|por favor|porfa|desde luego|por supuesto)\b[\s,.;:!¡]*)+",
    re.IGNORECASE,
)


def after_yes(text: str) -> str:
    """The text after a leading yes / "acepto" ("Sí, acepto. Ana López" -> "Ana López")."""
    return _LEADING_YES.sub("", text.strip(), count=1)


# -- person ---------------------------------------------------------------------------------------------
# a patient's personal name: bot/core/names.py (re-exported here, where the other readers are)


# -- service --------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _aliases() -> dict[str, tuple[str, ...]]:
    path = Path(__file__).with_name("data") / "service_aliases.yml"
    raw = load_mapping(path, "colloquial service names", allow_empty=True)
    return {str(k): tuple(fold(str(a)) for a in v or ()) for k, v in raw.items()}


_ORDINAL = {
    "1": 0, "uno": 0, "primer": 0, "primero": 0, "primera": 0, "first": 0,
    "2": 1, "dos": 1, "segundo": 1, "segunda": 1, "second": 1,
    "3": 2, "tres": 2, "tercer": 2, "tercero": 2, "tercera": 2, "third": 2,
    "4": 3, "cuatro": 3, "cuarto": 3, "cuarta": 3,
    "5": 4, "cinco": 4, "quinto": 4, "quinta": 4,
    "6": 5, "seis": 5, "sexto": 5, "sexta": 5,
    "7": 6, "siete": 6, "septimo": 6, "septima": 6,
    "8": 7, "ocho": 7, "octavo": 7, "octava": 7,
    "9": 8, "nueve": 8, "noveno": 8, "novena": 8,
    "10": 9, "diez": 9, "decimo": 9, "decima": 9,
}
_FILLER = re.compile(
    r"\b(?:quiero|quisiera|necesito|ocupo|busco|ando buscando|me gustaria|una|un|la|el|de|del|con|para|"
    r"cita|consulta|por favor|porfa|pues|este|seria|es|lo de|mi|opcion|numero|servicio|agendar|sacar)\b"
)


def ordinal(text: str, *, limit: int = 3) -> int | None:
    """The index of "2", "la segunda", "opción 3", "la número 1, por favor" (0-based, below ``limit``)."""
    t = fold(text)
    m = re.match(r"^(?:(?:la|el|opcion|option|numero|num|no|#|quiero|prefiero|me quedo con|mejor|"
                 r"esa|ese|dame|deme|agendeme|me da|me das|me puede dar|me podria dar|me aparta|apartame|"
                 r"aparteme|me agenda|agendame|ponme|pongame|me pone|tomo|me late|si|ok|va|sale|"
                 r"entonces|pues)\s+)*(\w+)\b(.*)$", t)
    if not m:
        return None
    index = _ORDINAL.get(m.group(1))
    rest = m.group(2).strip()
    if index is None or index >= limit:
        return None
    if rest and not re.match(r"^(?:(?:opcion|por favor|porfa|porfas|porfis|porfavor|x ?favor|xfa|xfavor|plis|"
                             r"pliss|"
                             r"please|pls|gracias|grax|gracis|muchas gracias|esta bien|la|de|si|va|sale|ok|"
                             r"mejor|esa|ese|esta|este|me acomoda|me queda|me late|bien|perfecto|"
                             r"seria)\s*)*$",
                             rest):
        return None
    return index


_TITLES = ("dra", "doctora", "dr", "doctor", "doc")


def physician_keys(name: str) -> tuple[str, ...]:
    """How a patient names a physician: "Dra. Sofía Herrera Campos" -> "sofia herrera campos", "sofia
    herrera", "herrera campos", "dra herrera", "doctora sofia", ... A bare first name or surname is not one
    (it is as likely the patient's own name)."""
    words = fold(name).split()
    title = words[0] if words and words[0] in _TITLES else None
    rest = words[1:] if title else words
    if not rest:
        return ()
    keys = {" ".join(rest), " ".join(rest[:2])}
    if len(rest) >= 3:
        keys.add(" ".join(rest[1:]))
    female = title in ("dra", "doctora")
    for t in (("dra", "doctora", "doc") if female else ("dr", "doctor", "doc")):
        keys.add(f"{t} {rest[0]}")  # "la doctora Sofía"
        if len(rest) >= 2:
            keys.add(f"{t} {rest[1]}")  # "la doctora Herrera"
            keys.add(f"{t} {rest[0]} {rest[1]}")
    return tuple(sorted(k for k in keys if len(k) >= 4))


_GENERIC = frozenset({"cita", "citas", "sita", "sitas", "consulta", "consultas", "cosulta", "una cita",
                      "una consulta", "cita medica", "consulta medica", "doctor", "doctora", "medico",
                      "medica", "la cita", "la consulta", "mi cita", "otra cita", "otra consulta"})


def service_id(text: str, clinic: Any, *, listed: bool = False) -> str | None:
    """The clinic service a short answer names; ``listed``: the services were just listed in clinic order,
    so "2" / "la segunda" pick one."""
    services = list(getattr(clinic, "services", ()) or ())
    if not services:
        return None
    if listed:
        index = ordinal(text, limit=len(services))
        if index is not None:
            return str(services[index].id)
    t = fold(text)
    core = " ".join(_FILLER.sub(" ", t).split()) or t
    if core in _GENERIC:
        return None  # "cita", "una consulta": no service named (fuzzily, "cita" is "cita de embarazo")
    choices: dict[str, str] = {}
    for s in services:
        choices[fold(s.name)] = s.id
        choices[fold(s.id.replace("_", " "))] = s.id
        for alias in _aliases().get(s.id, ()):
            choices[alias] = s.id
    doctors: dict[str, str] = {}
    for p in getattr(clinic, "physicians", ()) or ():
        if p.services:
            choices.setdefault(fold(p.specialty), p.services[0])
            for key in physician_keys(p.name):
                doctors.setdefault(key, p.services[0])
    if core in choices:
        return choices[core]
    if core in doctors:
        return doctors[core]
    best = process.extractOne(core, list(choices), scorer=fuzz.WRatio, score_cutoff=88)
    if best is not None and len(core) >= 3:
        return choices[best[0]]
    # a physician only by title and name or by full name, typos tolerated but never by a partial match: a
    # patient called "Sofía Ramírez" is not "Dra. Sofía Herrera"
    best = process.extractOne(core, list(doctors), scorer=fuzz.ratio, score_cutoff=88)
    if best is not None:
        return doctors[best[0]]
    for key in sorted(doctors, key=len, reverse=True):
        if re.search(rf"\b{re.escape(key)}\b", t):
            return doctors[key]
    # a longer sentence that contains one alias as whole words ("la de pedia por favor")
    for key in sorted(choices, key=len, reverse=True):
        if len(key) >= 4 and re.search(rf"\b{re.escape(key)}\b", t):
            return choices[key]
    return _service_in_words(t.split(), choices)
    return None


def _service_in_words(words: list[str], choices: dict[str, str]) -> str | None:
    """A service named with a typo inside a longer sentence ("con el pedriatra, para el jueves"): each run of
    one to three words against the names and aliases of five letters or more (one edit in ten letters)."""
    keys = [k for k in choices if len(k) >= 5]
    found: set[str] = set()
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            run = " ".join(words[i : i + size])
            if len(run) < 5 or run in _FILLER_WORDS:
                continue
            best = process.extractOne(run, keys, scorer=fuzz.ratio, score_cutoff=87)
            if best is not None and abs(len(best[0]) - len(run)) <= 2:
                found.add(choices[best[0]])
        if found:
            break
    return found.pop() if len(found) == 1 else None


_FILLER_WORDS = frozenset({"quiero", "quisiera", "necesito", "consulta", "porfavor", "gracias", "buenas",
                           "tardes", "noches", "manana", "viernes", "martes", "jueves", "sabado", "domingo",
                           "miercoles", "lunes", "despues", "semana", "horario", "agendar"})


def normalise_service(value: Any, clinic: Any) -> str | None:
    """An NLU service entity value as a clinic id ("ULTRASONIDO", "Pediatría" -> "ultrasonido", ...)."""
    if not isinstance(value, str):
        return None
    ids = {s.id for s in getattr(clinic, "services", ()) or ()}
    if value in ids:
        return value
    key = fold(value).replace(" ", "_")
    if key in ids:
        return key
    return service_id(value, clinic)
