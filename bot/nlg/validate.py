"""Deterministic checks that an LLM paraphrase says what the template says, and nothing more.

``validate_paraphrase`` returns the reasons a candidate is rejected (empty list = accepted). It is
deliberately strict: any doubt means the fixed template is sent instead, which is always correct. The
disclosure gate still checks whatever is finally sent; these checks are the paraphraser's own fence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping

EMPTY = "empty"
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
MISSING_VALUE = "missing_value"
NEW_NUMBER = "new_number"
DROPPED_NUMBER = "dropped_number"
NEW_URL = "new_url"
NEW_EMAIL = "new_email"
NEW_PHONE = "new_phone"
NEW_NAME = "new_name"
LANGUAGE = "language"
FORMATTING = "formatting"
CLINICAL_TERM = "clinical_term"

_Reject = Callable[[str], None]

MIN_RATIO = 0.5
MAX_RATIO = 1.6
MAX_CHARS = 1600  # WhatsApp's limit for one message

_WORD = re.compile(r"[^\W\d_]+")
_DIGITS = re.compile(r"\d+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"(?i)(?:\b(?:https?://|www\.)[^\s<>\"']+"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}\b(?:/[^\s<>\"']*)?)"
)
_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_TRAILING_PUNCT = ".,;:!?)]}»\"'"
_SENTENCE_END = ".!?:;\n…"
_OPENERS = "¡¿\"'(«*_"
_MARKUP_CHARS = "*_~`#<>[]{}|\\"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words that mark each language. Words common to both ("a", "no", "me") are in neither.
_ES_WORDS = _words(
    """de la que el en y los las del se por un una para con su sus al lo le les es está están esta este
    estos estas como más pero ya o muy sin sobre también hasta hay donde desde todo todos nos ni ese eso
    esto esa mi mis tu tus te usted ustedes cual cuando qué cómo dónde cuándo ha han fue será son sea
    gracias hola buenos buenas buen día días tarde tardes noches favor cita consulta hora fecha queda
    quedó puede podemos agendada confirmada confirmamos recuerde le espera esperamos atender"""
)
_EN_WORDS = _words(
    """the and you your is are to of for with we will be at on this that please thank thanks hello hi
    have has our can it in an was were been see soon appointment confirmed my i us they from by as or
    if would should could not there here what when where which who how do does did dear regards
    welcome good morning afternoon evening"""
)
# Capitalised words a paraphrase may open a sentence with although the template does not use them.
_SENTENCE_STARTERS = _ES_WORDS | _words(
    """con perfecto claro listo excelente gracias muchas le les lo la su sus por para en al del con
    ahora aquí allí así entonces además recuerde recordamos confirmamos queda quedó tiene tenemos
    será es está estamos nos puede podemos si sí ya también con gusto estimado estimada atentamente
    saludos buen buenos buenas"""
)
_NUMBER_WORDS = _words(
    """dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciséis
    diecisiete dieciocho diecinueve veinte veintiuno treinta cuarenta cincuenta sesenta setenta ochenta
    noventa cien ciento cientos doscientos trescientos cuatrocientos quinientos seiscientos setecientos
    ochocientos novecientos mil millón millones"""
)
# Clinical vocabulary (accent-free, lower case). Stems match word prefixes, the short ones whole words.
_CLINICAL_STEMS = (
    "diagnost",
    "resultado",
    "tratamiento",
    "medicament",
    "medicina",
    "receta",
    "dosis",
    "analisis",
    "laboratorio",
    "biopsia",
    "positiv",
    "negativ",
    "tumor",
    "cancer",
    "diabet",
    "hipertens",
    "infecci",
    "sintoma",
    "padecimiento",
    "enfermedad",
    "miligramo",
    "pastilla",
    "tableta",
    "inyecci",
    "cirugi",
    "embaraz",
    "glucosa",
    "colesterol",
    "metformina",
    "ultrasonido",
    "radiografi",
    "tomografi",
)
_CLINICAL_WORDS = ("mg", "ml", "vih", "sida", "covid")
_CLINICAL = re.compile(rf"\b(?:({'|'.join(_CLINICAL_WORDS)})\b|({'|'.join(_CLINICAL_STEMS)}))")


def validate_paraphrase(template: str, slot_values: Mapping[str, str], candidate: str) -> list[str]:
    """Reasons ``candidate`` may not replace ``template`` (empty when it may).

    The input the LLM saw is the template plus the slot values; the candidate may rephrase it but must
    keep every value verbatim and may add no number, URL, e-mail, phone, name, markup or clinical term.
    """
    text = candidate.strip()
    if not text:
        return [EMPTY]
    values = [v.strip() for v in slot_values.values() if v and v.strip()]
    source = "\n".join([template, *values])
    reasons: list[str] = []

    def reject(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    base = max(len(template.strip()), 1)
    if len(text) > MAX_CHARS or len(text) > MAX_RATIO * base:
        reject(TOO_LONG)
    if len(text) < MIN_RATIO * base:
        reject(TOO_SHORT)
    if any(v not in text for v in values):
        reject(MISSING_VALUE)

    source_words = {w.lower() for w in _WORD.findall(source)}
    _check_numbers(template, source, text, source_words, reject)
    _check_contacts(source, text, reject)
    if _has_new_name(text, source_words):
        reject(NEW_NAME)
    if _language(text) != _language(template) or _english_hits(text) > _english_hits(template) + 1:
        reject(LANGUAGE)
    if text.count("\n") > template.strip().count("\n") or any(
        text.count(c) > source.count(c) for c in _MARKUP_CHARS
    ):
        reject(FORMATTING)
    new_terms = _clinical_terms(text)
    if new_terms and new_terms - _clinical_terms(source):
        reject(CLINICAL_TERM)
    return reasons


def _check_numbers(template: str, source: str, text: str, source_words: set[str], reject: _Reject) -> None:
    source_runs = set(_DIGITS.findall(source))
    text_runs = set(_DIGITS.findall(text))
    if text_runs - source_runs:
        reject(NEW_NUMBER)
    if set(_DIGITS.findall(template)) - text_runs:
        reject(DROPPED_NUMBER)
    if any(w.lower() in _NUMBER_WORDS and w.lower() not in source_words for w in _WORD.findall(text)):
        reject(NEW_NUMBER)


def _check_contacts(source: str, text: str, reject: _Reject) -> None:
    source_folded = source.casefold()
    emails = _EMAIL.findall(text)
    if any(e.casefold() not in source_folded for e in emails):
        reject(NEW_EMAIL)
    without_emails = _EMAIL.sub(" ", text)
    for url in _URL.findall(without_emails):
        if url.rstrip(_TRAILING_PUNCT).casefold() not in source_folded:
            reject(NEW_URL)
            break
    source_phones = {_digits_only(p) for p in _PHONE.findall(source)}
    source_digits = _digits_only(source)
    for phone in _PHONE.findall(text):
        digits = _digits_only(phone)
        if digits not in source_phones and digits not in source_digits:
            reject(NEW_PHONE)
            break


def _has_new_name(text: str, source_words: set[str]) -> bool:
    """A capitalised word the input does not contain (sentence openers from a short list excepted)."""
    for match in _WORD.finditer(text):
        word = match.group()
        if not word[0].isupper() or word.lower() in source_words:
            continue
        if _at_sentence_start(text, match.start()) and word.lower() in _SENTENCE_STARTERS:
            continue
        return True
    return False


def _at_sentence_start(text: str, index: int) -> bool:
    i = index - 1
    while i >= 0 and (text[i].isspace() or text[i] in _OPENERS):
        i -= 1
    return i < 0 or text[i] in _SENTENCE_END


def _language(text: str) -> str:
    """Return "es", "en" or "unknown" from function words and Spanish-only characters (deterministic)."""
    words = [w.lower() for w in _WORD.findall(text)]
    es = sum(1 for w in words if w in _ES_WORDS or any(c in "áéíóúñü" for c in w))
    es += text.count("¿") + text.count("¡")
    en = sum(1 for w in words if w in _EN_WORDS)
    if es > en:
        return "es"
    if en > es:
        return "en"
    return "unknown"


def _english_hits(text: str) -> int:
    return sum(1 for w in _WORD.findall(text) if w.lower() in _EN_WORDS)


def _clinical_terms(text: str) -> set[str]:
    return {short or stem for short, stem in _CLINICAL.findall(_fold(text))}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _digits_only(text: str) -> str:
    return "".join(_DIGITS.findall(text))


def reasons_text(reasons: Iterable[str]) -> str:
    """The reasons as one short log-safe string (no text from the template or the answer)."""
    return ",".join(reasons) or "ok"
