"""Patients' personal names (bot/core/names.py, re-exported by bot/core/readers.py): compound names with
particles, abbreviated first names, first names that are calendar words, honorifics, and the details
("entre semana en la tarde", "lo antes posible") that are not names."""

from __future__ import annotations

import pytest

from bot.core import names, readers


def test_readers_re_exports_the_name_readers() -> None:
    assert readers.person_name is names.person_name
    assert readers.person_in is names.person_in


@pytest.mark.parametrize(
    "text, name",
    [
        ("Maria de los Angeles Soto", "Maria de los Angeles Soto"),
        ("Maria de la Luz Gonzalez", "Maria de la Luz Gonzalez"),
        ("José del Carmen Ruiz", "José del Carmen Ruiz"),
        ("Juan de Dios Pérez", "Juan de Dios Pérez"),
        ("María de Jesús López", "María de Jesús López"),
        ("maría de la luz gonzález", "María de la Luz González"),
        ("MARIA DE LA LUZ GONZALEZ", "Maria de la Luz Gonzalez"),
        ("Maria De Las Mercedes Ortiz", "Maria de las Mercedes Ortiz"),
        ("María Fernanda de la Garza Ruiz", "María Fernanda de la Garza Ruiz"),
        ("Ana del Valle", "Ana del Valle"),
        ("me llamo Rosario de la Cruz Pérez", "Rosario de la Cruz Pérez"),
        ("a nombre de mi hija María de los Ángeles Soto, el viernes", "María de los Ángeles Soto"),
        ("José Ortega y Gasset", "José Ortega y Gasset"),
    ],
)  # fmt: skip
def test_particles_stay_inside_a_compound_name(text: str, name: str) -> None:
    assert readers.person_name(text) == name


@pytest.mark.parametrize(
    "text, name",
    [
        ("pa mi hija Ana el viernes", "Ana"),
        ("Ana López para mañana", "Ana López"),
        ("Ana López de la tarde", "Ana López"),
        ("ANA LOPEZ DE LA TARDE", "Ana Lopez"),
        ("Ana López, el lunes en la mañana", "Ana López"),
        ("Ana López del viernes", "Ana López"),
        ("María de la Luz Pérez de la mañana", "María de la Luz Pérez"),
        ("Ana López y Pedro Ruiz", "Ana López"),  # two people: the first
        ("ana lopez y mi hijo", "Ana Lopez"),
        ("Ana López x la tarde", "Ana López"),  # "x": "por", no initial
        ("Ana López de 35 años", "Ana López"),
        ("pa mi hija Ana de 5 años", "Ana"),
        ("Ana López lo antes posible", "Ana López"),
    ],
)  # fmt: skip
def test_a_particle_before_a_detail_ends_the_name(text: str, name: str) -> None:
    assert readers.person_name(text) == name


@pytest.mark.parametrize(
    "text, name",
    [
        ("Ma. Guadalupe Reyes", "Ma. Guadalupe Reyes"), ("Ma Guadalupe", "Ma Guadalupe"),
        ("MA. GUADALUPE REYES", "Ma. Guadalupe Reyes"), ("Fco. Javier Torres", "Fco. Javier Torres"),
        ("fco.javier torres", "Fco. Javier Torres"), ("J. Carmen Díaz", "J. Carmen Díaz"),
        ("J Carmen Díaz", "J. Carmen Díaz"), ("Ana M. López", "Ana M. López"),
        ("Ma. del Carmen Ruiz", "Ma. del Carmen Ruiz"), ("me llamo Ma. de Jesús Hdez.", "Ma. de Jesús Hdez."),
        ("Gpe. Martínez, el lunes", "Gpe. Martínez"),
    ],
)  # fmt: skip
def test_abbreviated_names_keep_their_dot(text: str, name: str) -> None:
    assert readers.person_name(text) == name


@pytest.mark.parametrize("text", ["Ma.", "J.", "Fco.", "Hdez", "x la tarde"])
def test_an_abbreviation_alone_is_no_name(text: str) -> None:
    assert readers.person_name(text) is None


@pytest.mark.parametrize(
    "text, name",
    [
        ("Domingo Hernández Ruiz", "Domingo Hernández Ruiz"), ("domingo hernandez", "Domingo Hernandez"),
        ("Abril Cervantes", "Abril Cervantes"), ("Julio Alberto Vega", "Julio Alberto Vega"),
        ("Julia Abril Santos", "Julia Abril Santos"), ("Julia Abril", "Julia Abril"),
        ("Pedro Mayo Ruiz", "Pedro Mayo Ruiz"), ("Domingo de la Cruz Pérez", "Domingo de la Cruz Pérez"),
        ("me llamo Abril", "Abril"), ("es para mi hija Abril", "Abril"), ("a nombre de Julio", "Julio"),
        ("me llamo julio y quiero cita", "Julio"), ("es para mi hijo Julio, el viernes", "Julio"),
        ("para julio alberto vega", "Julio Alberto Vega"),
    ],
)  # fmt: skip
def test_first_names_that_are_calendar_words(text: str, name: str) -> None:
    assert readers.person_name(text) == name


@pytest.mark.parametrize(
    "text",
    ["el domingo", "domingo en la tarde", "Domingo", "domingo 15", "en abril", "para julio", "julio 15",
     "mayo", "el domingo en la mañana", "domingo de la semana que viene", "es para mi hija abril en la tarde",
     "es para mi hija el domingo"],
)
def test_calendar_words_as_days_are_no_names(text: str) -> None:
    assert readers.person_name(text) is None


@pytest.mark.parametrize(
    "text, name",
    [("Ana López domingo", "Ana López"), ("ANA LOPEZ DOMINGO", "Ana Lopez"), ("ana mayo", "Ana"),
     ("Ana López, domingo en la tarde", "Ana López")],
)
def test_a_calendar_word_after_a_name_is_the_day(text: str, name: str) -> None:
    assert readers.person_name(text) == name


@pytest.mark.parametrize(
    "text",
    [
        "entre semana en la tarde", "fin de semana, temprano", "cuando haya", "la que sea",
        "lo antes posible", "temprano", "cualquier día", "cualquiera", "la que haya", "el que sea",
        "lo más pronto posible",
        "de preferencia en la tarde", "después de las 5", "la próxima semana", "a mediodía", "por la mañana",
        "fines de semana", "cuanto antes", "ahorita", "no importa", "me da igual", "turno vespertino",
        "saliendo del trabajo", "pasado mañana", "hasta luego", "muchas gracias", "mil gracias",
        "cancelación de cita", "horarios de fin de semana", "noticias de hoy",
        "hazme un resumen de este texto",
        "solicito una copia de mis datos", "tomé muchas pastillas", "dime lo que tengo", "ni de chiste",
        "con la Dra. Herrera", "Dra. Sofía Herrera", "Don", "la señora", "mi nombre es", "baja",
    ],
)  # fmt: skip
def test_details_and_sentences_are_no_names(text: str) -> None:
    assert readers.person_name(text) is None


@pytest.mark.parametrize(
    "text, name",
    [
        ("Don Ramiro Chávez", "Ramiro Chávez"), ("Doña Lupita", "Lupita"), ("Sra. Ana López", "Ana López"),
        ("Srita. Karla Ruiz", "Karla Ruiz"), ("Lic. Jorge Ramos", "Jorge Ramos"),
        ("Ing. Pedro Salas", "Pedro Salas"), ("la señora Ana López", "Ana López"),
        ("para la niña Sofía Ruiz", "Sofía Ruiz"), ("a nombre de Don Ramiro Chávez", "Ramiro Chávez"),
        ("Nina Simone", "Nina Simone"),  # a first name, not "niña"
    ],
)  # fmt: skip
def test_honorifics_are_dropped(text: str, name: str) -> None:
    assert readers.person_name(text) == name


@pytest.mark.parametrize(
    "text, name",
    [
        ("Ana Sofía Pérez-Gómez", "Ana Sofía Pérez-Gómez"), ("Renée O'Brien", "Renée O'Brien"),
        ("d’angelo ruiz", "D'Angelo Ruiz"), ("Begoña Núñez", "Begoña Núñez"), ("ÑUÑEZ PEÑA", "Ñuñez Peña"),
        ("ana lópez porfa", "Ana López"), ("Ana López, gracias", "Ana López"),
        ("Ana López gracias!", "Ana López"),
        ("ANA LOPEZ PORFA", "Ana Lopez"), ("Ana López muchas gracias", "Ana López"),
        ("Ana López 🙏", "Ana López"), ("Ana López 5512345678", "Ana López"),
        ("Ana López, entre semana en la tarde", "Ana López"), ("entre semana, Ana López", "Ana López"),
        ("se llama Ana López, ¿tienen el viernes?", "Ana López"),
        ("Ana López ¿tienen el viernes?", "Ana López"),
        ("mi nombre completo es Gabriela Fuentes Lara", "Gabriela Fuentes Lara"),
        ("mi nombre Adriana Beltrán", "Adriana Beltrán"), ("buenos días, soy Julio Vega", "Julio Vega"),
        ("Ana Bueno López", "Ana Bueno López"),  # a surname that is a common word, capitalised
        ("el nombre del paciente es Ana López", "Ana López"),
        ("es para mi hija Ana lo antes posible", "Ana"), ("me llamo Ana muchas gracias", "Ana"),
    ],
)  # fmt: skip
def test_names_in_everyday_forms(text: str, name: str) -> None:
    assert readers.person_name(text) == name


@pytest.mark.parametrize(
    "text",
    ["Ana López?", "¿me atiende la doctora Ana?", "Ana López jajaja", "ana bueno lopez",
     "Ana Necesita Una Cita"],
)
def test_questions_and_doubtful_words_are_no_names(text: str) -> None:
    assert readers.person_name(text) is None


@pytest.mark.parametrize(
    "text, name",
    [
        ("cita el domingo a nombre de Ana Ruiz, porfa", "Ana Ruiz"),
        ("quiero cita para mi hija Abril, el viernes", "Abril"),
        ("cita para mi hija domingo en la tarde", None),
        ("necesito cita, me llamo Maria de la Luz Gonzalez y es para el lunes", "Maria de la Luz Gonzalez"),
        ("hola, soy Ma. Guadalupe Reyes", "Ma. Guadalupe Reyes"),
        ("buenas tardes, a nombre de Domingo Ruiz", "Domingo Ruiz"),
        ("es para mi esposo, se llama Don Ramiro Chávez", "Ramiro Chávez"),
        ("se llama Ana López ¿tienen el viernes?", "Ana López"),
        ("¿se llama Ana López la doctora?", None),
        ("soy Abril", None),  # "soy" wants a first name and a surname
        ("mi nombre completo es Gabriela Fuentes Lara", "Gabriela Fuentes Lara"),
    ],
)  # fmt: skip
def test_a_name_introduced_in_a_longer_message(text: str, name: str | None) -> None:
    assert readers.person_in(text) == name
