"""A patient's personal name in a free-text answer (bot/core/readers.py re-exports person_name, person_in).

What a name is here, the way Mexican patients write it:

* words of letters (accents, ñ, hyphens and apostrophes: "Pérez-Gómez", "O'Brien"), at most five, in any
  case; returned in title case with the particles lower case: "María de la Luz González";
* particles (de, del, de la, de los, de las) inside a name when a name word follows them ("José del Carmen
  Ruiz", "Juan de Dios Pérez"); before a time or other detail they end a first name and surname ("Ana
  López de la tarde"), and after one word they make the message no name ("cancelación de cita"); "y" joins
  two capitalised surnames only ("José Ortega y Gasset"): "Ana López y Pedro Ruiz" is "Ana López";
* abbreviated names keep their dot ("Ma. Guadalupe", "Fco. Javier", "J. Carmen", "Hdez."); a bare
  initial gets one ("Ana M López" -> "Ana M. López");
* honorifics at the start are dropped (Don, Doña, Sr., Sra., Srita., Lic., Ing., Profr., Mtro., "la
  señora", "el niño"): the clinic registers the patient's own name. Dr. / Dra. are not dropped: "Dra. Sofía
  Herrera" is the physician, not the patient;
* first names that are also calendar words (Domingo, Abril, Julio, Mayo) are names when another name word
  follows ("Domingo Hernández", "Julio Alberto Vega"), when the writer capitalises names ("Julia Abril") or
  right after "me llamo / es para mi hija / a nombre de" ("me llamo Abril"); "el domingo", "domingo en la
  tarde", "en abril", "para julio", a bare "Domingo" are not names;
* details after the name end it ("Ana López para mañana", "Ana López, el lunes", "pa mi hija Ana el
  viernes", "Ana López porfa", "Ana López ¿tienen el viernes?"); details alone ("entre semana en la tarde",
  "lo antes posible", "la que sea") and sentences ("tomé muchas pastillas") are no name.
"""

from __future__ import annotations

import re
import unicodedata


def _fold(word: str) -> str:
    """One word lower case without accents ("Ñúñez" -> "nunez"; hyphens, apostrophes and dots stay)."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.casefold()) if not unicodedata.combining(c))


_RELATIVES = (r"hij[oa]|espos[oa]|mama|mamá|papa|papá|abuel\w*|herman[oa]|niet[oa]|sobrin[oa]|bebe|bebé|"
              r"niñ[oa]|nin[oa]|suegr[oa]|ti[oa]|tí[oa]|pareja|novi[oa]|señora|senora|señor|senor|jef[ea]")
_LEAD = r"(?:es |seria |la cita es |la cita seria )?"
#: What comes before a name (matched on folded text); "strong": told as a name ("me llamo", "es para mi
#: hija"), so "me llamo Abril" is a name where "para abril" is not.
_PERSON_PREFIX = re.compile(
    r"^(?:(?:hola|holi|buenas|buenos dias|buen dia|buenas tardes|buenas noches|ok|si|sale|va|claro|listo|"
    r"perfecto|bueno|pues|este)\s+)*"
    r"(?:(?P<strong>" + _LEAD + r"a nombre de(?:\s+mi\s+\w+)?|me llamo|(?:el |la )?nombre del? (?:la )?"
    r"paciente(?: es)?|(?:mi |el |su )?nombre(?: completo)?(?: es)?|se llama|la paciente es|el paciente es|"
    r"(?:y\s+)?(?:yo\s+)?soy|(?:" + _LEAD + r"(?:para|pa)|es)\s+mi\s+\w+)(?:\s+|$)|"
    r"(?P<weak>" + _LEAD + r"(?:para|pa)\s+))"
)
#: Dropped before a name: the clinic registers "Ramiro Chávez", not "Don Ramiro Chávez".
_HONORIFIC = re.compile(
    r"^(?:(?:el|la)\s+)?(?:don|dona|sr|sra|srita|srta|senor|senora|senorita|lic|licenciad[oa]|ing|"
    r"ingenier[oa]|prof|profe|profr|profra|mtro|mtra|maestr[oa])\s+(?=\S)|"
    r"^(?:el|la)\s+(?:nino|nina|joven)\s+(?=\S)"
)
#: Abbreviated given names and surnames ("Ma. Guadalupe", "Fco. Javier", "Hdez."): no vowel needed.
_ABBREV = frozenset({"ma", "fco", "gpe", "ant", "jse", "gmo", "mtz", "hdz", "hdez", "glez", "gzz", "rdz",
                     "rguez", "fdez", "gtz", "gtrz"})
#: A dot after these (or one letter) is part of the name or title, not the end of a sentence.
_DOTTED = re.compile(
    r"\b(?:(" + "|".join(sorted(_ABBREV)) + r")\.|(sr|sra|srita|srta|lic|ing|prof|profr|profra|mtro|mtra|dr|"
    r"dra|[^\W\d_])\.(?=[ \t]*[^\W\d_]))",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"^[a-zñ][a-zñ'\-]*$")
#: A word with no vowel, a letter three times in a row, or laughter / hesitation: no part of a name.
_NOT_A_WORD = re.compile(r"^[^aeiouy]+$|(\w)\1\1|^(?:ja|je|ji|jo)+j?$|^(?:eh|ah|em|aja|ajam|uff|ups|pues|"
                         r"este|esto|nose|okey|oki|equis|xd)$")
#: Given names that are also a weekday or a month (see the module docstring for when they are names).
_CALENDAR = frozenset({"domingo", "abril", "julio", "mayo"})
#: Words that end a name (what follows is a time or other detail); a particle ends it unless a name follows.
_NAME_STOP = frozenset(
    [
        "para", "pa", "el", "la", "los", "las", "a", "al", "en", "y", "que", "con", "por", "porfa",
        "porfavor", "favor", "xfa", "plis", "please", "gracias", "grax", "saludos", "bendiciones", "es",
        "este", "esta", "si", "no", "ok", "cuando", "entre", "hasta", "desde", "antes", "despues", "manana",
        "hoy", "pasado", "lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "sabados",
        "domingos", "temprano", "tempranito", "tarde", "noche", "mediodia", "proximo", "proxima",
        "siguiente", "semana", "cualquier", "cualquiera", "urgente", "ahorita", "am", "pm", "hrs", "enero",
        "febrero", "marzo", "junio", "agosto", "septiembre", "setiembre", "octubre", "noviembre",
        "diciembre",
    ]
)
#: End a name of two words or more ("Ana López muchas gracias", "Ana López lo antes posible"); after one
#: word the message is a sentence, not a name ("tomé muchas pastillas", "dime lo que tengo").
_SOFT_STOP = frozenset({"de", "del", "lo", "muchas", "mil", "muy"})
_NOT_NAME = frozenset(
    [
        "si", "no", "ok", "va", "sale", "nel", "hola", "gracias", "cita", "consulta", "quiero", "necesito",
        "agendar", "cambiar", "cancelar", "doctor", "doctora", "dra", "dr", "ninguna", "ninguno", "otro",
        "otra", "dia", "hora", "horario", "manana", "tarde", "noche", "hoy", "lunes", "martes", "miercoles",
        "jueves", "viernes", "sabado", "persona", "humano", "alguien", "asesor", "agente",
        "ayuda",
        "bot", "robot", "quien", "eres", "que", "como", "cuando", "donde", "cuanto", "precio", "costo",
        "cuesta", "general", "pediatria", "pedia", "gineco", "nutri", "ultra", "psico", "vacuna",
        "certificado",
        "consulta", "la", "el", "los", "las", "un", "una", "de", "del", "por", "favor", "porfa", "urgente",
        "emergencia", "bien", "mal", "cual", "opcion", "primera", "segunda", "tercera", "uno", "dos", "tres",
        "perfecto", "claro", "listo", "bueno", "buenas", "buenos", "dias", "noches", "tardes", "mande",
        "disculpe", "perdon", "mi", "mis", "su", "sus", "yo", "tu", "usted", "para", "con", "sin", "mejor",
        "prefiero", "puedo", "puede", "tengo", "tiene", "es", "son", "acepto", "correcto", "exacto", "nada",
        "cita", "citas", "pago", "tarjeta", "efectivo", "siempre", "ya", "oiga", "oye", "entonces", "ahora",
        "pero", "tambien", "mas", "menos", "mismo", "misma", "solo", "nomas", "aqui", "alla", "otra", "otro",
        "mejor", "cambio", "cambiar", "mande", "sigo", "hay",
        # how a sentence about oneself starts ("ando con gripa", "me duele mucho"): never a name
        "me", "te", "se", "le", "lo", "nos", "les", "ando", "tengo", "estoy", "ocupo", "siento", "traigo",
        "duele", "duelen", "mucho", "muy", "poco", "dolor", "gripa", "tos", "fiebre", "desde", "hace", "ayer",
        # when, in a list of details ("entre semana en la tarde", "fin de semana", "lo antes posible")
        "entre", "semana", "semanas", "fin", "fines", "cualquier", "cualquiera", "haya", "sea", "antes",
        "posible", "pronto", "temprano", "tempranito", "mediodia", "medio", "despues", "luego", "proxima",
        "proximo", "siguiente", "entrante", "viene", "pasado", "quincena", "mes", "preferencia", "igual",
        "importa", "disponible", "libre", "turno", "matutino", "vespertino", "ahorita", "trabajo", "saliendo",
        "sabados", "domingos", "enero", "febrero", "marzo", "junio", "agosto", "septiembre", "octubre",
        "noviembre", "diciembre", "mira", "mire", "disculpa", "porfavor", "xfa", "plis", "ni", "tus", "todo",
        "toda", "todos", "completo", "enfermera", "enfermero", "medico", "medica", "paciente", "adios",
        "baja", "stop", "cuanta", "cuantas", "cuantos", "cuales", "disculpen", "perdone", "perdona", "holaa",
        "holis", "buen", "buena", "lista", "mensajes", "datos", "portal", "whatsapp",
        # a relative alone names nobody ("hija"); not "nieto", a surname
        "hija", "hijo", "hijos", "mama", "papa", "esposo", "esposa", "abuela", "abuelo", "abuelita",
        "abuelito", "hermana", "hermano", "bebe", "suegra", "suegro", "novia", "novio",
        # an honorific alone ("Don", "la señora") names nobody
        "don", "dona", "sr", "sra", "srita", "srta", "senor", "senora", "senorita", "lic", "ing", "joven",
    ]
)


def person_name(text: str) -> str | None:
    """A plausible personal name ("Ana López", "me llamo ana lópez", "a nombre de mi hija Sofía Ruiz
    para el viernes") in title case, or None (a question, a yes/no, a number, a common word)."""
    if len(text) > 160:
        return None
    for part in _clauses(text):
        part = part.split("¿", 1)[0]  # "Ana López ¿tienen el viernes?": the name before the question
        if "?" in part:
            continue  # a question ("me atiende la doctora Ana?"), not a name; the rest may hold one
        name = _one_name(part)
        if name is not None:
            return name
    return None


_NAME_MARKER = re.compile(r"\b(?:a nombre de|me llamo|(?:mi|el) nombre(?: completo)? es|mi nombre completo|"
                          r"se llama|nombre del paciente es|nombre de la paciente es|"
                          r"(?:es )?(?:para|pa|de) (?:mi|mí) (?:" + _RELATIVES + r"))\s+", re.IGNORECASE)
_SOY = re.compile(r"(?:^|[.,;!¡]\s*)(?:y\s+)?(?:yo\s+)?soy\s+", re.IGNORECASE)


def person_in(text: str) -> str | None:
    """A name introduced anywhere in a longer message ("cita el viernes a nombre de Ana Ruiz, porfa")."""
    m = _NAME_MARKER.search(text) or _SOY.search(text)
    if m is None:
        return None
    clause = _clauses(text[m.end():])[0].split("¿", 1)[0]
    if "?" in clause or "?" in text[: m.start()].rsplit(",", 1)[-1]:
        return None  # "¿se llama Ana López la doctora?": asked, not told
    name = _one_name(clause, marked=True)
    if name and m.re is _SOY and len(name.split()) < 2:
        return None  # "soy hipertenso" is not a name; "soy Juan Pérez" is
    return name


def _clauses(text: str) -> list[str]:
    """The text split at punctuation, but not at the dot of "Ma. Guadalupe", "Sr. Ruiz" or "J. Carmen"."""
    kept = _DOTTED.sub(lambda m: (m.group(1) or m.group(2)) + "\x00", text)
    return [p.replace("\x00", ".") for p in re.split(r"[,;.:!\n]+", kept)]


def _one_name(text: str, *, marked: bool = False) -> str | None:
    """The name at the start of one clause; ``marked``: right after "me llamo / es para mi hija / ..."."""
    t = re.sub(r"[^\w\s'\-.]", " ", unicodedata.normalize("NFC", text).replace("’", "'"))
    t = re.sub(r"\.(?=[^\W\d_])", ". ", t)  # "Fco.Javier"
    raw = [w.strip("'-") for w in t.split()]
    raw = [w for w in raw if w]
    lead = _PERSON_PREFIX.match(" ".join(_fold(w) for w in raw))
    if lead is not None:
        raw = raw[len(lead.group().split()):]
        marked = marked or lead.group("strong") is not None
    title = _HONORIFIC.match(" ".join(_fold(w).rstrip(".") for w in raw))
    if title is not None:
        raw, marked = raw[len(title.group().split()):], True
    words = [_fold(w) for w in raw]
    # the writer capitalises names (not only the first word, not all caps): case tells "Julia Abril" from
    # "julia, abril"
    cased = any(w[:1].isupper() for w in raw[1:]) and any(c.islower() for w in raw for c in w)
    name: list[tuple[str, str]] = []  # (kind, text): "word" or "particle"
    i = 0
    while i < len(raw):
        f = words[i].rstrip(".")
        given = sum(kind == "word" for kind, _ in name)
        if f[:1].isdigit():
            break
        if f in ("de", "del") and given:
            j = i + _particle(words, i)
            if _continues(words, j):  # "María de la Luz", "José del Carmen"
                name += [("particle", w) for w in words[i:j]]
                i = j
                continue
            if given >= 2 or marked or (j < len(words) and words[j][:1].isdigit()):
                break  # "Ana López de la tarde", "me llamo Ana de la tarde", "Ana de 5 años"
            return None  # "cancelación de cita", "noticias de hoy": not a name
        if f == "y" and given >= 2 and cased and _continues(words, i + 1) and raw[i + 1][:1].isupper() and (
            i + 2 >= len(words) or _ends(words[i + 2])
        ):
            name += [("particle", "y")]  # "José Ortega y Gasset"; never two people ("Ana López y Pedro Ruiz")
            i += 1
            continue
        if f in _CALENDAR:
            if cased and not raw[i][:1].isupper():
                break  # "Ana López domingo"
            if not _goes_on(words, i + 1):
                after = words[i + 1] if i + 1 < len(words) else ""
                alone = marked and not after[:1].isdigit() and after not in _WHEN
                if not (cased if given else alone):
                    break  # "domingo en la tarde", "para julio", "ana lopez domingo"
        elif f in _NAME_STOP:
            break
        elif f in _SOFT_STOP:
            if given >= 2 or marked:
                break  # "Ana López lo antes posible", "es para mi hija Ana lo antes posible"
            return None  # "tomé muchas pastillas", "dime lo que tengo"
        elif len(words[i]) == 1 and (f in "xqkd" or not _goes_on(words, i + 1)):
            break  # "x la tarde" (por), "q" (que); an initial has a name after it ("J Carmen Díaz")
        name.append(("word", raw[i]))
        i += 1
    return _checked(name, cased)


#: What follows a weekday or month that is a day, not a name ("domingo en la tarde", "julio 15").
_WHEN = frozenset({"en", "a", "al", "por", "de", "del", "entre", "antes", "despues", "desde", "hasta",
                   "temprano", "tempranito", "tarde", "noche", "manana", "mediodia", "o", "que", "proximo",
                   "siguiente", "pasado", "este", "esta", "si", "no"})


def _particle(words: list[str], i: int) -> int:
    """How many words the particle at ``i`` takes: "de la" / "de los" / "de las" two, the others one."""
    return 2 if words[i] == "de" and i + 1 < len(words) and words[i + 1] in ("la", "las", "los") else 1


def _continues(words: list[str], j: int) -> bool:
    """Whether the word at ``j`` is a name word that can go on a name (no detail, no calendar word)."""
    if j >= len(words):
        return False
    f = words[j].rstrip(".")
    if f == words[j] and len(f) == 1:
        return False  # "mayo x gracias": a letter without its dot is shorthand ("x" por), not an initial
    return (f not in _NAME_STOP and f not in _SOFT_STOP and f not in _NOT_NAME and f not in _CALENDAR
            and _valid(words[j]))


def _goes_on(words: list[str], j: int) -> bool:
    """A name word at ``j``, or a particle and a name word ("Domingo de la Cruz")."""
    if j < len(words) and words[j] in ("de", "del"):
        return _continues(words, j + _particle(words, j))
    return _continues(words, j)


def _ends(word: str) -> bool:
    return word in _NAME_STOP or word in _SOFT_STOP or word[:1].isdigit()


def _valid(word: str) -> bool:
    """A name word, an abbreviation ("ma", "fco.", "hdez") or an initial ("j.", "m")."""
    core = word.rstrip(".")
    if core in _ABBREV or (len(core) == 1 and core.isalpha() and (word != core or core not in "aeiouy")):
        return True  # an initial with its dot, or a consonant (the loop in _one_name wants a name after it)
    return bool(_NAME_WORD.match(word)) and len(word) >= 2 and not _NOT_A_WORD.search(word)


def _checked(name: list[tuple[str, str]], cased: bool) -> str | None:
    words = [_fold(w) for kind, w in name if kind == "word"]
    if not 1 <= len(words) <= 5 or not any(len(w.rstrip(".")) > 1 and w.rstrip(".") not in _ABBREV
                                           for w in words):
        return None
    if any(not _valid(w) for w in words):
        return None  # digits, "mmm", "eeeh", "jajaja": not a name
    cores = [w.rstrip(".") for w in words]
    # one common word is part of a name only capitalised by a writer who capitalises names ("Ana Bueno
    # López"), never first: "hazme un resumen", "solicito una copia", "ni de chiste" are not names
    common = [up for w, up in zip(cores, [w[:1].isupper() for k, w in name if k == "word"], strict=True)
              if w in _NOT_NAME]
    if cores[0] in _NOT_NAME or len(common) > 1 or (common and not (cased and common[0])):
        return None
    return " ".join(w if kind == "particle" else _title(w) for kind, w in name)


def _title(word: str) -> str:
    """ "PÉREZ-GÓMEZ" -> "Pérez-Gómez", "o'brien" -> "O'Brien", "MA." -> "Ma.", "m" -> "M." """
    w = word.casefold()
    if len(w) == 1:
        return w.upper() + "."
    w = re.sub(r"(^|-)(\w)", lambda m: m.group(1) + m.group(2).upper(), w)
    return re.sub(r"^(\w)'(\w)", lambda m: m.group(1).upper() + "'" + m.group(2).upper(), w)
