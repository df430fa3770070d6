"""Vocabulary and the master regular expression of the Spanish (MX) time extractor.

The patterns run on a *normalised* copy of the message: lower case, accents and the tilde removed
("mañana" -> "manana", "miércoles" -> "miercoles"). Every alternative of the master pattern is wrapped in
an outer named group whose name is the atom kind (``m.lastgroup``); inner groups carry the fields and
have unique names. The pattern is compiled on first use (``master_pattern``), never at import time.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.core.picks import WEEKDAY_FORMS

# ----------------------------------------------------------------------------------------------- words

NUMBER_WORDS: dict[str, int] = {
    "un": 1, "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15,
    "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20, "veintiuno": 21,
    "veintiun": 21, "veintidos": 22, "veintitres": 23, "veinticuatro": 24, "veinticinco": 25,
    "treinta": 30, "cuarenta": 40, "cincuenta": 50, "cuarto": 15, "media": 30, "medio": 30,
    "cuarenta y cinco": 45, "cincuenta y cinco": 55, "primero": 1, "par": 2, "un par de": 2,
}

# Days of the month in words ("el tres de diciembre", "el quince"); "uno" only before "de <mes>".
DAY_WORDS: dict[str, int] = {
    **{w: n for w, n in NUMBER_WORDS.items()
       if 2 <= n <= 30 and " " not in w and w not in {"par", "media", "medio", "cuarto"}},
    "primero": 1, "uno": 1, "veintiseis": 26, "veintisiete": 27, "veintiocho": 28, "veintinueve": 29,
    "treinta y uno": 31, "treintaiuno": 31,
}

MONTHS: dict[str, int] = {
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
    "ene": 1, "feb": 2, "mar": 3, "abr": 4, "may": 5, "jun": 6, "jul": 7, "ago": 8, "sep": 9, "sept": 9,
    "set": 9, "oct": 10, "nov": 11, "dic": 12,
}
FULL_MONTHS = [name for name in MONTHS if len(name) > 4]

# Short forms that are a weekday only right after a determiner ("el vie", "este sáb", "el próximo mié",
# "del jue"), never alone, so that no ordinary word is read as a day; and real words that are a weekday typo
# only right after "el" ("el vienes": a singular article before a plural word). See ``weekday_context_ok``.
WEEKDAY_SHORT: dict[str, int] = {
    "lun": 0, "mart": 1, "marte": 1, "mie": 2, "mier": 2, "jue": 3, "juev": 3, "vie": 4, "vier": 4,
    "sab": 5, "dom": 6,
}  # fmt: skip
WEEKDAY_AFTER_EL: dict[str, int] = {"vienes": 4, "jueces": 3, "mates": 1}  # never "bienes" ("los bienes")
# Every form the parser reads, canonical keys of the ``wd`` fields (``weekday_key``): the shared table of
# typos (bot/core/picks.py), the short forms and the forms read after "el".
WEEKDAYS: dict[str, int] = {**WEEKDAY_FORMS, **WEEKDAY_SHORT, **WEEKDAY_AFTER_EL}

# Parts of the day as patients in Mexico use them (clinic reading; "to" is exclusive, Duckling style).
# Hours are local wall-clock; 24 is the next midnight. They tile the clinic day: mañana, mediodía, tarde.
PARTS_OF_DAY: dict[str, tuple[int, int]] = {
    "manana": (8, 12),  # the clinic morning, not Duckling's 04:00-12:00
    "mediodia": (12, 14),  # "al mediodía": around noon, before the comida (Duckling: the point 12:00)
    "tarde": (13, 19),  # from 1:00 "de la tarde" (how the offers say 13:00); never 12:30 (Duckling: 12-19)
    "noche": (19, 24),  # evening consultations; Duckling uses 18:00-00:00
    "madrugada": (0, 6),
    "temprano": (7, 10),  # "temprano", "a primera hora": the first hours a clinic opens
    "tardenoche": (17, 21),  # "en la tarde-noche": the evening around the end of the tarde (19:00)
}
POD_ALIASES: dict[str, str] = {
    "mananita": "manana", "mananas": "manana", "tardes": "tarde", "tardecita": "tarde",
    "noches": "noche", "nochecita": "noche",
}

# "manana" and the frequent WhatsApp spellings of it (after normalisation "mñn" -> "mnn", "mñana" ->
# "mnana", "mañan" -> "manan"); never "mana" (a word of its own).
MANANA = r"(?:manana+|mnn|mnna|mnana|manna|mana?ana|maniana|manan)"


def _alt(words: list[str]) -> str:
    """A non-capturing alternation, longest word first so no word shadows a longer one."""
    return "(?:" + "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True)) + ")"


def _stretchy(words: list[str]) -> str:
    """Like ``_alt``, each letter possibly typed several times ("viernees", "sabaado")."""
    return "(?:" + "|".join("".join(re.escape(c) + "+" for c in w)
                            for w in sorted(words, key=len, reverse=True)) + ")"


HOUR_WORDS = _alt([w for w, n in NUMBER_WORDS.items() if 1 <= n <= 23 and " " not in w
                   and w not in {"un", "veintiun", "cuarto", "media", "medio", "primero", "par"}])
MINUTE_WORDS = _alt(["cinco", "diez", "quince", "veinte", "veinticinco", "treinta", "cuarenta",
                     "cuarenta y cinco", "cincuenta", "cincuenta y cinco", "cuarto", "media"])
AMOUNT_WORDS = _alt([w for w, n in NUMBER_WORDS.items() if n <= 30 and w not in {"cuarto", "primero"}])
WEEKDAY_RE = _stretchy(list(WEEKDAYS))
MONTH_RE = _alt(list(MONTHS)) + r"\b\.?"
# a month before its day ("diciembre 3", "dic 3"): not "mar" (the sea, martes), "may", "set"
MONTH_FIRST_RE = _alt([m for m in MONTHS if m not in {"mar", "may", "set"}]) + r"\b\.?"
DAY_WORDS_RE = _alt(list(DAY_WORDS))
BARE_DAY_WORDS_RE = _alt([w for w in DAY_WORDS if w != "uno"])  # "el quince", never "el uno"
FULL_MONTH_RE = _alt(FULL_MONTHS) + r"\b"

# Words that, after a bare number, say it is a quantity and not a time or a day.
UNIT_GUARD = (r"(?!\s*(?:%|\$|pesos|mxn|dias?\b|semanas?|mes(?:es)?\b|horas?\b|minutos?|min\b|anos?\b|"
              r"veces|citas?|consultas?|personas|pacientes|kilos?|kg|cm|mg|ml|pastillas|sesiones|"
              r"cuadras|metros|km))")
NEXT_ADJ = r"(?:proxim[oa]\b|prox\b\.?|siguiente\b|sig\b\.?|sgte\b\.?)"  # "la prox semana", "el sig martes"
NEXT_WORDS = rf"(?:que\s+viene|que\s+entra|{NEXT_ADJ}|entrante)"
SEMANA = r"(?:semana\b|sem\b\.?)"
DESPUES = r"(?:despues|despus|despes|despuez|dspues|dsps|dsp|desp|dps|dpues)"  # "dsps de las 5"


# -------------------------------------------------------------------------------------- time pieces


def _hour(p: str) -> str:
    """An hour 0-23 in digits or 1-23 in words; group ``{p}__h``."""
    return rf"(?P<{p}__h>(?<![\d$.,:/])(?:[01]?\d|2[0-3])(?![\d/])|{HOUR_WORDS}\b)"


def _minutes(p: str) -> str:
    """Minutes: ``:30`` (``mm``), ``y media``/``y 10`` (``mp``), ``menos cuarto`` (``mn``)."""
    return (rf"(?:(?:\s?[:.h]\s?|\s)(?P<{p}__mm>[0-5]\d)(?![\d/]|[.,:]\d)"
            rf"|\s+y\s+(?P<{p}__mp>{MINUTE_WORDS}|[0-5]?\d)\b(?:\s+minutos)?"
            rf"|\s+menos\s+(?P<{p}__mn>{MINUTE_WORDS}|[0-5]?\d)\b(?:\s+minutos)?)")


def _suffix(p: str) -> str:
    """am/pm (``ap``), a part of day (``pd``) or "del día" (``dia``) right after the time."""
    return (rf"(?:\s*(?P<{p}__ap>[ap])\.?\s?m\b\.?"
            rf"|\s+(?:de|en|por|x)\s+la\s+(?P<{p}__pd>{MANANA}|tarde|noche|madrugada)\b"
            rf"|\s+de(?:l)?\s+(?P<{p}__dia>dia|medio\s?dia)\b)")


_TAIL = r"(?:\s*(?:hrs?\b\.?|horas\b)|\s+en\s+punto\b)?"
# What may follow a bare "las 4": the end, punctuation, or a word that is not the noun it counts.
_BARE_END = (r"\W*$|\s*[,.;!?)]|\s+(?:por|porfa|porfavor|pf|plis|pls|xfa|si|o|y|del|de\s+(?:hoy|manana|este|"
             r"esta|ese|el)|el|este|esta|estaria|seria|mejor|entonces|para|pa|ok|gracias|puede|me|hoy|"
             rf"{MANANA}|dr|dra|doctor|doctora|con|en\s+punto|mismo|tambien|aunque|pero|please)\b")


def _clock(p: str) -> str:
    """A time of day that is unambiguous on its own; field groups are named ``{p}_<letter>__<field>``.

    Branches ``f`` ("16 hrs"), ``g`` (a bare "las 4") and ``h`` ("tipo 4", "a eso de las 11") are checked
    against the words before them (``bot.nlu.timeparse_atoms``)."""
    a, b, c, d, e, f, g, h = (f"{p}_{x}" for x in "abcdefgh")
    return (rf"(?:\b(?:a|para|desde|hasta|de)\s+las?\s+"  # a las 10
            rf"{_hour(a)}{_minutes(a)}?{_suffix(a)}?{_TAIL}"
            rf"|\blas?\s+{_hour(b)}(?:{_minutes(b)}{_suffix(b)}?|{_suffix(b + 'x')}){_TAIL}"  # las 10 pm
            rf"|\b{_hour(c)}(?:\s?:\s?(?P<{c}__mm>[0-5]\d)(?!\d)|\s+y\s+(?P<{c}__mp>media|cuarto)\b"
            rf"|\s+menos\s+(?P<{c}__mn>cuarto)\b){_suffix(c)}?{_TAIL}"  # 16:00, diez y media
            rf"|\b{_hour(d)}{_suffix(d)}{_TAIL}"  # 10am, 8 de la noche
            rf"|\b(?:un\s+)?(?P<{e}__mn>cuarto|cinco|diez|quince|veinte|veinticinco|5|10|15|20|25)"
            rf"\s+(?:minutos\s+)?para\s+(?:las?\s+)?{_hour(e)}{_suffix(e)}?{_TAIL}"  # cuarto para las 10
            rf"|\b(?P<{f}__h>1[3-9]|2[0-3]|0\d)\s?(?:hrs?\b\.?|h\b)(?!\s*de\b)"  # 16 hrs (13-23, 09 hrs)
            rf"|\blas\s+{_hour(g)}(?={_BARE_END})"  # las 4 (alone, or before "por favor", "del jueves"...)
            rf"|\b(?:tipo|aprox\.?|aproximadamente|(?:como\s+)?a\s+eso\s+de|por\s+ahi\s+de)\s+"
            rf"(?:(?:a\s+)?las?\s+|(?!(?:[12]|uno|una|dos)\b))"  # tipo 4 (never "diabetes tipo 2")
            rf"{_hour(h)}{_minutes(h)}?{_suffix(h)}?{_TAIL})"
            rf"(?![\w:/]){UNIT_GUARD}")


def _clock_loose(p: str) -> str:
    """A time after a word that already says "time" (de 10 a 12, después de las 5): bare hours allowed."""
    q = f"{p}_a"
    return (rf"(?:(?:las?\s+)?{_hour(q)}{_minutes(q)}?{_suffix(q)}?{_TAIL}"
            rf"|(?:el\s+|la\s+)?(?P<{q}__noon>medio\s?dia)\b)(?![\w:/]){UNIT_GUARD}")


def _span(p: str, q: str, colons: bool) -> str:
    """"8:00-9:00" (``colons``: both with minutes) or "9-10am" / "4 a 6 de la tarde" (the end qualified)."""
    def end(x: str, qualified: bool) -> str:
        minutes = rf"\s?:\s?(?P<{x}__mm>[0-5]\d)(?!\d)"
        return (rf"(?:las?\s+)?{_hour(x)}{minutes if colons else f'(?:{minutes})?'}"
                rf"{_suffix(x) if qualified else f'(?:{_suffix(x)})?'}")
    return rf"\b{end(p, False)}\s*(?:-|–|a|hasta)\s*{end(q, not colons)}(?![\w:/]){UNIT_GUARD}"


# ---------------------------------------------------------------------------------------- the pattern


def _alternatives() -> list[tuple[str, str]]:
    """(kind, regex) in priority order: at one position the first alternative that matches wins."""
    wd = WEEKDAY_RE
    day_num = r"(?<![\d$.,:/])(?:[0-3]?\d)(?![\d/:])"
    ordinal = r"(?:ero|ro|er|o|°|º)?"
    de = r"d(?:e)?"  # "despues d las 5"
    return [
        ("RANGE", rf"\b(?:de|entre|desde)\s+{_clock_loose('r1')}\s+(?:a|y|hasta)\s+{_clock_loose('r2')}"
                  rf"|{_span('r1_b', 'r2_b', colons=True)}|{_span('r1_c', 'r2_c', colons=False)}"),
        ("OPEN", rf"\b(?P<op>{DESPUES}\s+{de}|a\s+partir\s+{de}|mas\s+tarde\s+de|desde|antes\s+{de}|hasta|"
                 rf"no\s+antes\s+{de}|no\s+{DESPUES}\s+{de}|pasad[ao]s|pasando)"
                 rf"(?:\s+{_clock_loose('o')}|l\s+(?P<o_n__noon>medio\s?dia)\b)"  # antes del mediodía
                 # "después de comer": the comida (see bot.nlu.timeparse_atoms)
                 rf"|\b(?P<mealop>{DESPUES}\s+{de}|antes\s+{de})(?:\s+la)?\s+(?:comer|comida)\b"),
        ("DURATION", rf"\bde\s+(?P<hd>hoy|{MANANA})\s+en\s+(?P<hn>ocho|8|quince|15)(?:\s+dias)?\b"
                     rf"|\b(?:dentro\s+de|de\s+aqui\s+a|en)\s+(?:unos?\s+|unas\s+)?"
                     rf"(?P<dn>\d{{1,3}}|{AMOUNT_WORDS}|un\s+par\s+de)\s+"
                     rf"(?P<du>dias?|semanas?|mes(?:es)?|horas?|hrs?|minutos?|mins?)\b"),
        ("NOW", r"\b(?:ahorita|ahora\s+mismo|en\s+este\s+momento|cuanto\s+antes|lo\s+(?:antes|mas\s+pronto)"
                r"(?:\s+(?:posible|que\s+se\s+pueda))?|en\s+cuanto\s+(?:se\s+)?pueda|lo\s+mas\s+rapido\s+posible)\b"),
        ("LATER", r"\b(?:hoy\s+)?(?:mas\s+)?al\s+rat(?:it)?o\b"),  # "al rato": later today
        ("WEEKEND", rf"\b(?:(?:el|este|esta|para\s+el)\s+)?(?P<wenext>(?:proximo|siguiente)\s+)?"
                    rf"fin(?:\s+de?\s+{SEMANA}|des?\b)(?P<wenext2>\s+{NEXT_WORDS})?"
                    r"|\b(?<!hasta\s)(?:el|este)\s+fin(?=\W*$)"),  # "¿el fin?" at the end: the weekend
        ("WEEK", rf"\b(?:(?:la|esta|para\s+la)\s+)?(?:(?P<wkn>{NEXT_ADJ}|otra)\s+{SEMANA}"
                 rf"|semana\s+(?P<wkn2>{NEXT_WORDS}|pasada\b)|(?P<wkp>pasada)\s+semana\b)"
                 rf"|\b(?P<wkthis>esta)\s+semana\b"
                 r"|\b(?<!hasta\s)la\s+(?P<wkn3>proxima|prox\b\.?)(?=\W*$)"),  # "¿puede ser la próxima?"
        ("MONTHREL", rf"\b(?:(?:el|este|para\s+el)\s+)?(?:(?P<mrn>proximo|siguiente|otro)\s+mes"
                     rf"|mes\s+(?P<mrn2>{NEXT_WORDS}))\b|\b(?P<mrthis>este)\s+mes\b"),
        ("DATERANGE", rf"\b(?:del|de|entre\s+el)\s+(?P<xa>{day_num})\s+(?:al|a|y\s+el)\s+(?P<xb>{day_num})"
                      rf"\s+de\s+(?P<xm>{MONTH_RE})(?:\s+(?:de|del)\s+(?P<xy>20\d\d))?"),
        ("DATE", rf"\b(?:(?:el\s+)?{wd}\s*,?\s+)?(?:(?:el|del)\s+(?:dia\s+)?|dia\s+)?"
                 rf"(?:(?P<dd>(?<![\d$.,:/])[0-3]?\d(?!\d)|primero){ordinal}(?:\s+(?:de\s+)?|\s*/\s*)"
                 rf"|(?P<ddw>{DAY_WORDS_RE})\s+de\s+)(?P<dm>{MONTH_RE})"  # el tres de diciembre
                 rf"(?:\s*(?:de|del|,)?\s*(?P<dy>20\d\d))?(?!\w)"
                 rf"|\b(?P<iy>20\d\d)-(?P<im>[01]?\d)-(?P<id>[0-3]?\d)(?![\d\w:/-])"
                 rf"|\b(?:(?:el|del)\s+(?:dia\s+)?)?(?P<sd>(?<![\d$.,:/-])[0-3]?\d)\s?[/-]\s?(?P<sm>[01]?\d)(?![\d:])"
                 rf"(?:[/-](?P<sy>20\d\d|\d\d)(?!\d))?(?![\w/-])"
                 rf"|\b(?:(?:el|del)\s+)?(?P<wdn>{wd})\s+(?P<wdd>{day_num})\b(?!\s*(?:de|:)){UNIT_GUARD}"
                 rf"|\b(?:(?:el|del)\s+(?:dia\s+)?|dia\s+)(?P<bd>{day_num}|{BARE_DAY_WORDS_RE}){ordinal}(?!\w)"
                 rf"(?!\s*(?:de\b|y\b|mil\b|a\b(?!\s+(?:las?|medio\s?dia|primera\s+hora)\b)|:|\.\d)){UNIT_GUARD}"
                 # diciembre 3, dic 3
                 rf"|\b(?P<mdm>{MONTH_FIRST_RE})\s*(?P<mdd>{day_num}|primero){ordinal}"
                 rf"(?:\s*(?:de|del|,)\s*(?P<mdy>20\d\d))?(?![\w:/]|\.\d)"
                 rf"(?!\s*(?:de\b(?!\s+la\b)|del\b|y\b|hrs?\b|-|a\b(?!\s+las?\b))){UNIT_GUARD}"),
        ("WEEKDAY", rf"\b(?:(?P<wpre>el|este|esta|los|el\s+{NEXT_ADJ}|{NEXT_ADJ}|este\s+proximo|el\s+otro)"
                    r"\s+)?"
                    rf"(?P<wd>{wd})s?\b(?:\s+(?P<wnext>{NEXT_WORDS})"
                    rf"|\s+de\s+la\s+(?P<wweek>(?:{NEXT_ADJ}|otra|entrante)(?:\s+{SEMANA})?"
                    rf"|semana\s+{NEXT_WORDS}|que\s+(?:viene|entra))"
                    rf"|\s+de\s+(?P<wthisweek>esta)\s+semana\b)?"
                    r"(?:\s+(?P<wpd>tarde|noche)\b)?"),  # el jueves tarde
        ("MONTH", rf"\b(?:el\s+mes\s+de\s+)?(?P<mo>{FULL_MONTH_RE})(?:\s+(?:de|del)\s+(?P<moy>20\d\d))?"),
        ("POD", rf"\b(?:(?:en|por|x|de|a|durante|toda|para|esta|temprano\s+en)\s+)?la\s+"
                rf"(?P<pd>{MANANA}|mananita|tarde\s*-?\s*noche|tarde|tardecita|noche|nochecita|madrugada)\b"
                rf"|\b(?:en|por|x)\s+las\s+(?P<pds>mananas|tardes|noches)\b"
                rf"|\b(?P<pdthis>esta)\s+(?P<pdt>{MANANA}|tarde|noche)\b"
                rf"|\b(?:(?:muy|lo\s+mas|lo\s+antes|bien)\s+)?(?P<early>temprano|tempranito|a\s+primera\s+hora)\b"),
        ("NOON", r"\b(?:(?:a|al|el|para\s+el)\s+)?(?P<noon>medio\s?dia|medianoche)\b"),
        ("TIME", _clock("t")),
        ("RELDAY", rf"\b(?P<rel>pasado\s*{MANANA}|hoy(?:\s+mismo)?(?!\s+en\s+dia|\s+por\s+hoy)|{MANANA}|"
                   r"ayer|antier|anteayer|antes\s+de\s+ayer)\b"
                   # "mañana 4": a bare hour right after the day word
                   rf"(?:\s+(?P<k_a__h>1[0-2]|[1-9])(?![\w:/.,])(?!\s*(?:de|y|a|hrs?)\b|\s*[ap]\.?\s?m\b)"
                   rf"{UNIT_GUARD}|\s+(?P<rpd>tarde|noche)\b)?"),  # "mañana tarde"
    ]


@lru_cache(maxsize=1)
def master_pattern() -> re.Pattern[str]:
    """All atom patterns joined into one regex (compiled once, on first use)."""
    return re.compile("|".join(f"(?P<{kind}>{rx})" for kind, rx in _alternatives()))


@lru_cache(maxsize=1)
def gap_pattern() -> re.Pattern[str]:
    """What may stand between two atoms of one expression ("el martes, como a las 10")."""
    filler = (r"(?:como|tipo|para|pa|de|del|el|por|x|pero|mejor|mismo|misma|ya|si|a\s+eso\s+de|a\s+eso|"
              r"por\s+ahi|por\s+alla|ahi|mas\s+o\s+menos|o\s+sea|en\s+la\s+misma|y|aprox\.?|aproximadamente|"
              r"ese\s+(?:mismo\s+)?dia|(?:ya\s+)?(?:muy\s+)?tarde|de\s+preferencia|preferentemente|pues)")
    return re.compile(rf"[\s,]*(?:{filler}[\s,]+){{0,3}}")


@lru_cache(maxsize=1)
def address_pattern() -> re.Pattern[str]:
    """Words before "5 de mayo" that make it a street, not a date (matched against the preceding text)."""
    return re.compile(r"\b(?:calle|c|av|avenida|col|colonia|blvd|boulevard|bulevar|esq|esquina|privada|priv|"
                      r"cerrada|calzada|calz|prolongacion|prol|carretera|glorieta|plaza|metro|fracc|"
                      r"fraccionamiento|unidad|escuela|hospital)\.?\s*$")


@lru_cache(maxsize=1)
def hint_pattern() -> re.Pattern[str]:
    """A cheap pre-filter: messages without a digit or one of these stems hold no time expression."""
    stems = ["hoy", "man", "mnn", "mna", "ayer", "antier", *WEEKDAYS, "sem", "mes", "tarde", "noche",
             "madrugada", "tempran", "primer",
             "medi", "dia", "hora", "minuto", "ahor", "momento", "fin", "las", "una", "cuarto", "menos",
             "antes", "pronto", "rapido", "pueda", "ocho", "quince", "rato", "ratito", "prox", "comer",
             "comida", *DAY_WORDS, *FULL_MONTHS]
    stretched = _stretchy(["lun", "mar", "mie", "jue", "vie", "sab", "dom"])  # "juueves", "viiernes"
    return re.compile(r"\d|" + _alt(stems) + "|" + stretched)
