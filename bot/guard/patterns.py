"""Regular expressions for values, doses and posology, run over the *plain* view.

The plain view is lower case without accents but keeps digits and punctuation (see ``normalise``), so
these patterns are written in that alphabet: ``glucosa 180 mg/dl``, ``presion 150/95``,
``tome 1 tableta cada 8 horas``. A bare number never blocks: it needs an analyte, a vital sign, a
clinical unit or a dosage form next to it, so times, prices and dates pass ("10:30", "$600", "3 de
diciembre"). Compiled once, on first use.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["VOCABULARY", "ValuePatterns", "value_patterns"]

_ANALYTE_WORDS = (
    "glucosa", "glucemia", "glicemia", "azucar", "azucar en sangre", "azucar en la sangre",
    "hemoglobina glucosilada", "hemoglobina glicosilada", "hemoglobina a1c", "hba1c", "hb a1c", "a1c",
    "hemoglobina", "hb", "hgb", "colesterol", "colesterol total", "colesterol ldl", "colesterol hdl",
    "colesterol bueno", "colesterol malo", "ldl", "hdl", "trigliceridos", "creatinina", "urea", "bun",
    "acido urico", "tsh", "t3", "t4", "t4 libre", "psa", "ape", "antigeno prostatico",
    "antigeno prostatico especifico", "leucocitos", "linfocitos", "linfocitos cd4", "neutrofilos",
    "plaquetas", "hematocrito", "eritrocitos", "globulos blancos", "globulos rojos", "sodio", "potasio",
    "cloro", "calcio", "magnesio", "fosforo", "ferritina", "hierro", "hierro serico", "vitamina d",
    "vitamina b12", "b12", "alt", "ast", "tgo", "tgp", "ggt", "bilirrubina", "bilirrubina total",
    "bilirrubina directa", "bilirrubina indirecta", "albumina", "insulina", "cortisol", "estradiol",
    "progesterona", "testosterona", "prolactina", "fsh", "lh", "beta hcg", "hcg", "fraccion beta", "pcr",
    "proteina c reactiva", "vsg", "inr", "carga viral", "cd4", "microalbuminuria",
    "depuracion de creatinina", "fosfatasa alcalina", "amilasa", "lipasa", "troponina", "dimero d", "tfg",
    "filtrado glomerular", "egfr", "glucose", "blood sugar", "sugar", "hemoglobin", "cholesterol",
    "triglycerides", "creatinine", "potassium", "sodium", "platelets", "white cell", "white cells",
    "white blood cell", "white blood cells", "wbc", "rbc", "viral load", "ferritin", "vitamin d",
    "cd4 count", "uric acid",
)
_CONNECT_WORDS = (
    ":", "=", "de", "del", "en", "es", "era", "fue", "salio", "salieron", "esta", "estaba", "quedo",
    "resulto", "dio", "marco", "is", "was", "of", "at", "came back", "came back at", "level", "levels",
    "nivel", "niveles", "resultado", "result", "valor", "value", "reading", "total", "serica", "serico",
    "en ayunas", "fasting", "ahora", "now", "actual", "current", "a", "al", "hasta", "up to", "arriba de",
    "above", "below", "debajo de",
)


_Node = dict[str, "_Node"]


def _literal_trie(words: tuple[str, ...]) -> str:
    """An alternation of literal ``words`` shaped as a prefix trie: ``re`` tries one branch per next
    character instead of every word in turn (the same language as ``a|b|c``, much faster to fail)."""
    root: _Node = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _emit(root)


def _emit(node: _Node) -> str:
    branches = [re.escape(ch) + _emit(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:
        return f"(?:{body})?"
    return body


_ANALYTES = _literal_trie(_ANALYTE_WORDS)
# Every word the patterns know (analytes, connecting words, units): a character read as either i or l
# is resolved against these before the patterns run on the words view.
VOCABULARY = frozenset(
    word
    for phrase in (*_ANALYTE_WORDS, *_CONNECT_WORDS, "mg dl ml l ul ui iu mmol meq ng pg mcg ug kg lb lbs",
                   "mm hg lpm bpm tabletas pastillas capsulas gotas cada horas dia veces al")
    for word in phrase.split()
)
_CONNECT = rf"(?:\s*{_literal_trie(_CONNECT_WORDS)}){{0,4}}\s*"
_NUMBER = r"\d+(?:[.,]\d+)?(?![\d:])(?!\s*(?:am|pm|a\.\s?m|p\.\s?m|hrs?|horas|h)\b)"
_NUMBER_WORDS = (
    r"(?:cien|ciento|doscientos|trescientos|cuatrocientos|quinientos|mil|uno|dos|tres|cuatro|cinco|seis|siete"
    r"|ocho|nueve|diez|once|doce|trece|catorce|quince|veinte|treinta|cuarenta|cincuenta|sesenta|setenta"
    r"|ochenta|noventa)(?:\s+(?:y\s+)?(?:uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|veinte"
    r"|treinta|cuarenta|cincuenta|sesenta|setenta|ochenta|noventa|punto \w+))*\b"
)
_LAB_UNITS = (
    r"mg/dl|mg/l|g/dl|g/l|mmol/l|mmol/mol|meq/l|m?ui/ml|uui/ml|miu/ml|ng/ml|ng/dl|pg/ml|ug/dl|mcg/dl|u/l"
    r"|ui/l|iu/l|cel/mm3|cel/ul|celulas/mm3|/mm3|x ?10\^?\d+(?:/\w+)?|copias/ml|copies/ml|mg/24 ?h"
)
_FORMS = (
    r"tabletas?|pastillas?|capsulas?|comprimidos?|grageas?|gotas|ampolletas?|ampulas?|ampollas?|ovulos?"
    r"|supositorios?|inhalaciones|disparos|puffs?|tablets?|pills?|capsules?|drops|cucharadas?"
    r"|cucharaditas?|inyecciones|inyeccion|parches?|sobres?|tabs?|caps?"
)
_COUNT = r"(?:\d+(?:[.,/]\d+)?|una?|dos|tres|cuatro|media|medio|one|two|three|half an?)"
# The first word of every alternative below that does not start with a digit (analytes aside). A
# pattern added to value_patterns() must start with a digit, an analyte or one of these words.
_FIRST_WORDS = (
    "presion", "tension", "t/a", "blood", "bp", "imc", "indice", "bmi", "body", "saturacion",
    "oxigenacion", "spo2", "sat", "o2", "oxygen", "temperatura", "fiebre", "temperature", "fever", "peso",
    "pesa", "weight", "cintura", "circunferencia", "frecuencia", "pulso", "heart", "fc", "estadio",
    "stage", "etapa", "grado", "un", "dos", "tres", "cuatro", "media", "medio", "one", "two", "three",
    "half", "cada", "every", "once", "twice", "antes", "despues", "con", "before", "after", "at", "al",
)
# Indices (in value_patterns) of the alternatives that can start with a digit / with a letter.
_DIGIT_FIRST = (1, 2, 3, 10, 12, 13, 14)
_WORD_FIRST = (0, 4, 5, 6, 7, 8, 9, 11, 13, 14)
_HOURS = r"(?:\d+|dos|tres|cuatro|seis|ocho|doce|veinticuatro|four|six|eight|twelve)"


def _after(keywords: str, value: str) -> str:
    return rf"(?:{keywords}){_CONNECT}(?:{value})"


class ValuePatterns:
    """All value/dose/posology patterns as one alternation; ``category`` names a match.

    Trying the whole alternation at every word start is what costs. Every alternative starts with a digit
    or with one of a few words, so ``starts`` (one quick C-level scan) finds the positions where a match
    can begin — and whether it begins with a digit — and only the alternatives that can start there are
    tried, in their order: the same matches as ``pattern.finditer``.
    """

    def __init__(
        self,
        pattern: re.Pattern[str],
        categories: dict[str, str],
        starts: re.Pattern[str],
        digit_first: re.Pattern[str],
        word_first: re.Pattern[str],
    ) -> None:
        self.pattern = pattern
        self.starts = starts
        self._categories = categories
        self._digit = digit_first.match
        self._word = word_first.match

    def category(self, match: re.Match[str]) -> str:
        return self._categories[match.lastgroup or ""]

    def finditer(self, plain: str) -> list[re.Match[str]]:
        """Non-overlapping matches, left to right, exactly as ``self.pattern.finditer(plain)``."""
        found: list[re.Match[str]] = []
        end = 0
        for candidate in self.starts.finditer(plain):
            pos = candidate.start()
            if pos < end:
                continue
            m = (self._digit if candidate.lastgroup == "digit" else self._word)(plain, pos)
            if m is not None:
                found.append(m)
                end = m.end()
        return found


@cache
def value_patterns() -> ValuePatterns:
    """The compiled patterns for the plain view. Every alternative starts at a word start."""
    raw: list[tuple[str, str]] = [
        ("lab_result", _after(_ANALYTES, f"{_NUMBER}|{_NUMBER_WORDS}")),
        ("lab_result", rf"\d+(?:[.,]\d+)?\s*(?:%|{_LAB_UNITS})?\s*(?:de|of)\s+(?:{_ANALYTES})"
                       r"(?![a-z])"),
        ("lab_result", rf"\d+(?:[.,]\d+)?\s*(?:{_LAB_UNITS})(?![a-z])"),
        ("clinical_value", r"\d+(?:[.,]\d+)?(?:\s*/\s*\d{2,3})?\s*(?:mm ?hg|lpm|bpm|rpm"
                           r"|latidos por minuto|respiraciones por minuto)(?![a-z])"),
        ("clinical_value", _after(r"presion(?: arterial)?|tension(?: arterial)?|t/a|blood pressure|bp",
                                  r"\d{2,3}\s*/\s*\d{2,3}")),
        ("clinical_value", _after(r"imc|indice de masa corporal|bmi|body mass index", _NUMBER)),
        ("clinical_value", _after(r"saturacion(?: de oxigeno)?|oxigenacion|spo2|sat o2|o2 sat"
                                  r"|oxygen(?: saturation)?", r"\d{2,3}\s*%")),
        ("clinical_value", _after(r"temperatura|fiebre|temperature|fever",
                                  r"\d{2}(?:[.,]\d)?\s*(?:°|o|grados|degrees|c\b|f\b)?")),
        ("clinical_value", _after(r"peso|pesa|pesaba|weight|weighs|cintura|circunferencia abdominal",
                                  r"\d+(?:[.,]\d+)?\s*(?:kg|kgs|kilos?|kilogramos|lbs?|libras|cm)\b")),
        ("clinical_value", _after(r"frecuencia cardiaca|pulso|heart rate|fc", r"\d{2,3}(?![\d:])")),
        ("clinical_value", r"\d{1,2}(?:[.,]\d)?\s*(?:semanas|sem)\.?\s+(?:de\s+)?"
                           r"(?:gestacion|embarazo)|\d{1,2}\s*sdg\b|\d{1,2} weeks pregnant"),
        ("diagnosis", r"(?:estadio|stage)\s+(?:[0-4][abc]?|i{1,3}[abc]?|iv[abc]?)\b"
                      r"|(?:etapa|grado)\s+(?:i{1,3}|iv)\b"),
        ("medication", r"(?<!/)\d+(?:[.,]\d+)?\s*(?:mg|mgs|mcg|ug|ml|cc|ui|iu|gr|grs|gramos|miligramos"
                       r"|mililitros|microgramos|unidades de insulina)(?![a-z/])(?!\s*de\s+agua)"),
        ("medication", rf"{_COUNT}\s*(?:{_FORMS})(?![a-z])"),
        ("medication", rf"(?:cada|every)\s+{_HOURS}\s*(?:horas|hrs?|h|hours?)(?![a-z])"
                       r"|(?:\d+|una|dos|tres|cuatro)\s+(?:veces|vez)\s+(?:al|por|a)\s+(?:dia|semana)"
                       r"|(?:once|twice|three times|\d+ times)\s+(?:a|per)\s+(?:day|week)"
                       r"|(?:antes|despues) de cada (?:comida|alimento)"
                       r"|con (?:los|cada) alimentos?|before meals|after meals|at bedtime"
                       r"|antes de dormir|al acostarse"),
    ]
    groups = {f"g{i}": category for i, (category, _) in enumerate(raw)}
    body = "|".join(f"(?P<g{i}>{pattern})" for i, (_, pattern) in enumerate(raw))
    # Where a match can start: a digit, or the first word of an alternative that starts with a word.
    firsts = {w.split()[0] for w in _ANALYTE_WORDS} | set(_FIRST_WORDS)
    starts = re.compile(rf"(?<![a-z0-9])(?:(?P<digit>(?=\d))|(?=(?:{_literal_trie(tuple(sorted(firsts)))})))")

    def only(indices: tuple[int, ...]) -> re.Pattern[str]:
        alternatives = "|".join(f"(?P<g{i}>{raw[i][1]})" for i in indices)
        return re.compile(rf"(?<![a-z0-9])(?:{alternatives})")

    return ValuePatterns(
        re.compile(rf"(?<![a-z0-9])(?:{body})"), groups, starts, only(_DIGIT_FIRST), only(_WORD_FIRST)
    )
