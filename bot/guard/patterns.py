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

__all__ = ["ValuePatterns", "value_patterns"]

_ANALYTES = (
    r"glucosa|glucemia|glicemia|azucar(?: en (?:la )?sangre)?|hemoglobina (?:glucosilada|glicosilada|a1c)"
    r"|hba1c|hb a1c|a1c|hemoglobina|hb|hgb|colesterol(?: total| ldl| hdl| bueno| malo)?|ldl|hdl"
    r"|trigliceridos|creatinina|urea|bun|acido urico|tsh|t3|t4(?: libre)?|psa|ape"
    r"|antigeno prostatico(?: especifico)?|leucocitos|linfocitos(?: cd4)?|neutrofilos|plaquetas|hematocrito"
    r"|eritrocitos|globulos (?:blancos|rojos)|sodio|potasio|cloro|calcio|magnesio|fosforo|ferritina"
    r"|hierro(?: serico)?|vitamina d|vitamina b12|b12|alt|ast|tgo|tgp|ggt|bilirrubina(?: total| directa"
    r"| indirecta)?|albumina|insulina|cortisol|estradiol|progesterona|testosterona|prolactina|fsh|lh"
    r"|beta hcg|hcg|fraccion beta|pcr|proteina c reactiva|vsg|inr|carga viral|cd4|microalbuminuria"
    r"|depuracion de creatinina|fosfatasa alcalina|amilasa|lipasa|troponina|dimero d|tfg"
    r"|filtrado glomerular|egfr|glucose|blood sugar|sugar|hemoglobin|cholesterol|triglycerides|creatinine"
    r"|potassium|sodium|platelets|white (?:blood )?cells?|wbc|rbc|viral load|ferritin|vitamin d"
    r"|cd4 count|uric acid"
)
_CONNECT = (
    r"(?:\s*(?:[:=]|de|del|en|es|era|fue|salio|salieron|esta|estaba|quedo|resulto|dio|marco|is|was|of|at"
    r"|came back(?: at)?|levels?|nivel(?:es)?|resultado|result|valor|value|reading|total|serica|serico"
    r"|en ayunas|fasting|ahora|now|actual|current|a|al|hasta|up to|arriba de|above|below|debajo de)){0,4}\s*"
)
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
_HOURS = r"(?:\d+|dos|tres|cuatro|seis|ocho|doce|veinticuatro|four|six|eight|twelve)"


def _after(keywords: str, value: str) -> str:
    return rf"(?:{keywords}){_CONNECT}(?:{value})"


class ValuePatterns:
    """All value/dose/posology patterns as one alternation (one scan); ``category`` names a match."""

    def __init__(self, pattern: re.Pattern[str], categories: dict[str, str]) -> None:
        self.pattern = pattern
        self._categories = categories

    def category(self, match: re.Match[str]) -> str:
        return self._categories[match.lastgroup or ""]


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
    return ValuePatterns(re.compile(rf"(?<![a-z0-9])(?:{body})"), groups)
