"""validate_paraphrase: what a paraphrase may change (wording) and what it may not (facts, markup)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.nlg import validate as v
from bot.nlg.validate import validate_paraphrase

TEMPLATE = "Su cita con la Dra. Ramírez quedó agendada para el 12/05/2025 a las 10:30. Costo: $800 MXN."
VALUES = {"doctor": "Dra. Ramírez", "date": "12/05/2025", "time": "10:30"}
GOOD = (
    "Con gusto. Su cita con la Dra. Ramírez está confirmada para el 12/05/2025 a las 10:30. Costo: $800 MXN."
)


def test_faithful_paraphrase_is_accepted() -> None:
    assert validate_paraphrase(TEMPLATE, VALUES, GOOD) == []
    assert validate_paraphrase(TEMPLATE, VALUES, TEMPLATE) == []


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        ("", v.EMPTY),
        ("   \n ", v.EMPTY),
        (GOOD.replace("10:30", "11:30"), v.MISSING_VALUE),
        (GOOD.replace("10:30", "11:30"), v.NEW_NUMBER),
        (GOOD.replace("Dra. Ramírez", "doctora"), v.MISSING_VALUE),
        (GOOD.replace("$800", "$900"), v.NEW_NUMBER),
        (GOOD.replace(" Costo: $800 MXN.", " Costo: consulte."), v.DROPPED_NUMBER),
        (GOOD + " Llame al 55 1234 5678.", v.NEW_PHONE),
        (GOOD + " Más en https://example.com/x", v.NEW_URL),
        (GOOD + " Más en www.clinica.mx", v.NEW_URL),
        (GOOD + " Vea clinica-falsa.com.mx", v.NEW_URL),
        (GOOD + " Escriba a citas@clinica.mx", v.NEW_EMAIL),
        (GOOD.replace("Con gusto.", "Hola, soy Lucía."), v.NEW_NAME),
        (GOOD.replace("la Dra. Ramírez", "la Dra. Ramírez y el Dr. López"), v.NEW_NAME),
        (GOOD + " Traiga dos copias.", v.NEW_NUMBER),
        (
            "Your appointment with Dra. Ramírez is on 12/05/2025 at 10:30. Cost: $800 MXN. Thank you!",
            v.LANGUAGE,
        ),
        (GOOD.replace("Con gusto.", "*Con gusto.*"), v.FORMATTING),
        (GOOD.replace("Con gusto. ", "Con gusto.\n"), v.FORMATTING),
        (GOOD.replace("Con gusto.", "# Con gusto."), v.FORMATTING),
        (GOOD.replace("Con gusto.", "[Con gusto](x)"), v.FORMATTING),
        (GOOD + " Sus resultados indican diabetes.", v.CLINICAL_TERM),
        (GOOD + " Lleve su receta.", v.CLINICAL_TERM),
        ("Cita: 12/05/2025 10:30, Dra. Ramírez, $800.", v.TOO_SHORT),
        (" ".join([GOOD] * 2), v.TOO_LONG),
    ],
)
def test_rejections(candidate: str, reason: str) -> None:
    assert reason in validate_paraphrase(TEMPLATE, VALUES, candidate)


def test_absolute_length_limit() -> None:
    template = "Su cita está confirmada. " * 70  # 1,750 chars: 1.6x allows more, WhatsApp does not
    assert v.TOO_LONG in validate_paraphrase(template, {}, template + "Gracias.")


def test_values_and_template_contents_are_allowed_to_reappear() -> None:
    template = "Puede consultar su portal en https://portal.clinica.mx o escribir a citas@clinica.mx."
    candidate = (
        "Con gusto. Puede entrar a su portal en https://portal.clinica.mx o escribir a citas@clinica.mx."
    )
    assert validate_paraphrase(template, {}, candidate) == []


def test_markup_present_in_the_template_may_stay() -> None:
    template = "Su cita es el *12/05/2025* a las *10:30*."
    assert validate_paraphrase(template, {}, "Le confirmo su cita el *12/05/2025* a las *10:30*.") == []


def test_clinical_words_in_the_template_are_not_new() -> None:
    template = "Sus resultados ya están disponibles en su portal seguro."
    assert validate_paraphrase(template, {}, "Con gusto: sus resultados ya están en su portal seguro.") == []


def test_sentence_openers_are_not_names() -> None:
    template = "su cita quedó agendada para el martes."
    assert validate_paraphrase(template, {}, "Perfecto. Su cita quedó agendada para el martes.") == []


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Su cita quedó agendada para mañana.", "es"),
        ("¿Le ayudo a agendar una cita?", "es"),
        ("Your appointment is confirmed for tomorrow.", "en"),
        ("OK", "unknown"),
    ],
)
def test_language_detection(text: str, language: str) -> None:
    assert v._language(text) == language


_ALPHABET = st.sampled_from(list("abcdeilmnorstuyáéíóñ ABCDMRS.,:;¿?¡!$/-@*_#()+0123456789\n"))
_templates = st.text(_ALPHABET, min_size=1, max_size=120).filter(lambda t: t.strip() != "")


@st.composite
def _template_and_values(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    template = draw(_templates)
    values: dict[str, str] = {}
    for i in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, len(template) - 1))
        end = draw(st.integers(start + 1, len(template)))
        values[f"slot{i}"] = template[start:end]
    return template, values


@given(_template_and_values())
def test_the_template_itself_always_validates(case: tuple[str, dict[str, str]]) -> None:
    template, values = case
    assert validate_paraphrase(template, values, template) == []


@given(_template_and_values(), st.data())
def test_inserting_a_new_digit_always_fails(case: tuple[str, dict[str, str]], data: st.DataObject) -> None:
    template, values = case
    source = template + "".join(values.values())
    fresh = [d for d in "0123456789" if d not in source]
    assume(fresh)
    digit = data.draw(st.sampled_from(fresh))
    at = data.draw(st.integers(0, len(template)))
    candidate = template[:at] + digit + template[at:]
    assert v.NEW_NUMBER in validate_paraphrase(template, values, candidate)
