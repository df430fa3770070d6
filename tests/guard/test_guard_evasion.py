"""Evasions of the disclosure gate found by the outside review (issue 15, medium 3), one test per class,
and the generated corpora (tests/guard/generate_corpora.py) that measure the classes at scale."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import ConfigError
from bot.guard.gate import CLINICAL_REDIRECT, DisclosureGate, Provenance, explain
from bot.guard.normalise import fold_plain
from bot.guard.policy import DisclosurePolicy, parse_policy

from .conftest import AGENT, corpus

TEMPLATE = Provenance("template", "utter_portal")


def _agent(gate: DisclosureGate, text: str, **kw: Any) -> Any:
    return gate.filter(text, channel="whatsapp", provenance=AGENT, patient_specific=True, **kw)


# -- 1. confusables: Unicode UTS #39 skeletons, not a hand table -------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "Su diagnóstico es ᴅɪᴀʙᴇᴛᴇꜱ",  # small capitals
        "ꜱᴜ ʜɪᴊᴏ ᴛɪᴇɴᴇ ᴀꜱᴍᴀ",
        "Tiene diɑbetes tipo 2",  # IPA / Latin alpha
        "Es հipօtirօidismօ",  # Armenian ho, o
        "Resultó ᎠᎥᎪᏴᎬᎢᎬᏚ",  # Cherokee capitals
        "Resultó ꭰꭵꭺꮟꭼꭲꭼꮪ",  # Cherokee small letters
        "Le dejamos Ιexapro",  # Greek capital Iota drawn as an l
        "Tome ꓟꓰꓔꓝꓳꓣꓟꓲꓠꓮ",  # Lisu METFORMINA
    ],
)
def test_uts39_confusables_are_read_as_latin(gate: DisclosureGate, text: str) -> None:
    # check(): the clinical reading alone, without the staff-only script rule
    verdict = gate.check(text, patient_specific=True)
    assert not verdict.allowed and "script" not in verdict.categories, (text, verdict)


def test_spanish_letters_keep_reading_as_spanish(gate: DisclosureGate) -> None:
    plain, _ = fold_plain("Mañana ¡Listo! acción, pingüino, CAMIÓN, Ñandú, ¿qué? 5°C, 1ª y 2º")
    assert plain == "manana ¡listo! accion, pinguino, camion, nandu, ¿que? 5°c, 1a y 2o"
    assert not gate.check("Su diagnóstico: hipertensión").allowed
    assert not _agent(gate, "¡Hola, Ángela! Su cita es el miércoles a las 10:30 en Av. Insurgentes.").blocked


# -- 2. bidi controls ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "Su resultado: \u202esetebaid\u202c",  # right-to-left override shows "diabetes"
        "Su cita es el \u2067lunes\u2069 a las 10:00.",  # an isolate around a harmless word: refused too
        "Hola\u200f, le esperamos.",
        "Gracias \u061c por su visita",
    ],
)
def test_bidi_controls_are_refused_whoever_writes(gate: DisclosureGate, text: str) -> None:
    for provenance in (AGENT, TEMPLATE):
        result = gate.filter(text, channel="whatsapp", provenance=provenance)
        assert result.blocked and result.text == CLINICAL_REDIRECT
        assert "bidi" in result.verdict.categories
    assert "bidi" in gate.check(text).categories


def test_hidden_tag_characters_are_refused(gate: DisclosureGate) -> None:
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "diabetes")
    assert "invisible" in _agent(gate, f"Su cita es el lunes.{hidden}").verdict.categories
    flag = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # an emoji flag
    assert not _agent(gate, f"¡Gracias! {flag}").blocked


# -- 3. leetspeak with symbols ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "Tiene d!abet€s",
        "Es trastorno |3ipolar",
        "Usted tiene V!H",
        "Salió con s!f!l!s",
        "Tiene ()besidad",
        "Le damos |\\/|etformina",
        "Su tratamiento de hipert€n$!ón",
        "Su glu¢()$@ salió en 180 m9/|)l",
        "3m|34r@24|)4, felicidades",  # embarazada
        "Su receta de |3xapr0",  # |3 read as "le" too
    ],
)
def test_leetspeak_with_symbols_is_undone(gate: DisclosureGate, text: str) -> None:
    assert _agent(gate, text).blocked, text


@pytest.mark.parametrize(
    "text",
    [
        "Su cita es el 12/01 a las 10:30; la consulta cuesta $500 (o $1,200.00 con estudios).",
        "Llámenos al (55) 1234-5678 o al +52 55 8765 4321. ¡Gracias!",
        "Estamos en Av. Revolución 1500, int. 5B, 2do piso; C.P. 03100.",
        "Referencia de pago: A1B2C3, folio JAC-2026-0042. Wifi: Bienvenidos2026",
        "¡Listo! (opcional) Traiga su identificación :) 10€ o $20 USD",
        "Horario 24/7, 9am-2pm, 3er piso, 4B, 1er. consultorio",
    ],
)
def test_leetspeak_decoding_leaves_logistics_alone(gate: DisclosureGate, text: str) -> None:
    assert not _agent(gate, text).blocked, text


# -- 4. lexicons: brands, prophylaxis, findings in plain words -----------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "Siga con su Glucophage.", "Le recetamos Tempra.", "Compre Ciprobac.", "Tome Flanax si le duele.",
        "Siga con el Euthyrox.", "Le cambiamos a Micardis.", "Compre Dolo-Neurobión.",
        "Su Nexium está listo.",
        "Le dejamos Tafil.", "Siga con su Jardiance.", "Le indicaron Augmentin.", "Su Lipitor llegó.",
        "Your Xenical is ready.",
    ],
)
def test_medicine_brand_names_are_medications(gate: DisclosureGate, text: str) -> None:
    assert "medication" in _agent(gate, text).verdict.categories, text


@pytest.mark.parametrize(
    "text",
    [
        "Ya está lista su PrEP.", "Empiece la PEP hoy mismo.", "Siga tomando Truvada.",
        "Le damos Descovy como profilaxis.", "Su Biktarvy ya llegó.", "Tome su profilaxis post exposición.",
        "Le cambiamos a Atripla.", "Siga con el dolutegravir.",
    ],
)
def test_antiretroviral_prophylaxis_names_are_blocked(gate: DisclosureGate, text: str) -> None:
    assert _agent(gate, text).blocked, text


@pytest.mark.parametrize(
    "text",
    [
        "Sus pulmones se ven limpios.", "Se ven limpios, no se preocupe.", "Salió todo bien en sus análisis.",
        "Sus niveles están altos.", "El estudio salió normal.", "Ya no hay nada, se fue por completo.",
        "Su azúcar ya está controlada.", "Negativo, no se preocupe.", "Todo dentro de rango.",
        "Sus valores están dentro de lo normal.", "Salió reactivo.", "Su prueba fue positiva.",
    ],
)
def test_findings_in_plain_words_are_blocked(gate: DisclosureGate, text: str) -> None:
    assert _agent(gate, text).blocked, text


@pytest.mark.parametrize(
    "text",
    [
        "Su cita salió confirmada para el lunes.", "Todo listo para su cita.", "Su pago salió bien, gracias.",
        "Ya no hay nada disponible el lunes, ¿le parece el martes?", "Es normal que haya tráfico a esa hora.",
        "¿Todo bien? Le esperamos el jueves.", "Todo salió bien con su factura.",
    ],
)
def test_logistics_with_the_same_words_pass(gate: DisclosureGate, text: str) -> None:
    assert not _agent(gate, text).blocked, text


# -- 5. staff text: Latin script only, the clinic's own links only ----------------------------------

@pytest.mark.parametrize(
    "text",
    ["Привет, ваш анализ готов", "Σας περιμένουμε", "您好，您的结果", "Su cita es el lunes, שלום"],
)
def test_staff_text_in_another_script_is_refused_and_says_so(gate: DisclosureGate, text: str) -> None:
    result = _agent(gate, text)
    assert result.blocked and "script" in result.verdict.categories
    assert any("Latin" in reason for reason in explain(result.verdict.categories))


def test_latin_accents_and_emoji_are_fine_for_staff(gate: DisclosureGate) -> None:
    assert not _agent(gate, "¡Feliz año, Zoë! 🎉👍🏽 Nos vemos el lunes 😊 — Consultorio Jacarandas").blocked


@pytest.mark.parametrize(
    "text",
    [
        "Vea su estudio en https://misresultados-clinica.net/ana",
        "Entre a www.laboratorio-privado.com.mx",
        "Le dejo http://192.168.10.4/estudios/123",
    ],
)
def test_staff_links_other_than_the_clinics_are_refused(gate: DisclosureGate, text: str) -> None:
    result = _agent(gate, text)
    assert result.blocked and "link" in result.verdict.categories


def test_the_clinics_own_links_pass(gate: DisclosureGate) -> None:
    for text in (
        "Sus resultados ya están en su portal: https://portal.consultorio-jacarandas.example/",
        "Aviso de privacidad: https://consultorio-jacarandas.example/aviso-de-privacidad.",
        "Así llega: https://maps.example.org/consultorio-jacarandas",
        "Escríbanos a contacto@gmail.com o llame al 55 1234 5678.",  # an e-mail address is no link
    ):
        assert not _agent(gate, text).blocked, text


@pytest.mark.parametrize(
    "text",
    [
        "Sus resultados: https://drive.google.com/file/d/1AbC/view",
        "Descárguelo en we.tl/t-AbC123",
        "Su estudio: bit.ly/3AbCdEf",
        "Chéquelo en drive . google . com/file/d/1x",
        "Aquí: hxxps://mega[.]nz/file/AbC",
        "Vea dropbox(dot)com/s/abc",
        "En drive.gооgle.com/x",  # Cyrillic o
    ],
)
def test_file_sharing_links_are_refused_for_everyone(gate: DisclosureGate, text: str) -> None:
    for provenance in (AGENT, TEMPLATE):
        result = gate.filter(text, channel="whatsapp", provenance=provenance)
        assert result.blocked and "link" in result.verdict.categories, (text, provenance)


def test_allowed_link_domains_in_the_policy() -> None:
    policy = parse_policy({"allowed_link_domains": ["WWW.Laboratorio-Aliado.mx"]})
    assert policy.allowed_link_domains == ("laboratorio-aliado.mx",)
    gate = DisclosureGate(policy, allowed_links=("https://portal.clinica.example/",))
    assert not _agent(gate, "Su orden: https://citas.laboratorio-aliado.mx/abc").blocked
    assert not _agent(gate, "Portal: https://portal.clinica.example/").blocked
    assert _agent(gate, "Vea https://otro-sitio.com/x").blocked
    with pytest.raises(ConfigError, match="file-sharing"):
        parse_policy({"allowed_link_domains": ["drive.google.com"]})
    with pytest.raises(ConfigError, match="domain"):
        parse_policy({"allowed_link_domains": ["https://x.example/path"]})
    assert DisclosurePolicy().allowed_link_domains == ()


# -- the generated corpora ---------------------------------------------------------------------------

def test_generated_corpora_sizes() -> None:
    assert len(corpus("evasion_generated.yml")) >= 2000
    assert len(corpus("benign_logistics.yml")) >= 1000


def test_generated_evasions_are_blocked(gate: DisclosureGate) -> None:
    items = corpus("evasion_generated.yml")
    missed = [item for item in items if not _agent(gate, item["text"]).blocked]
    assert len(missed) / len(items) <= 0.01, missed[:20]


def test_generated_logistics_are_not_blocked(gate: DisclosureGate) -> None:
    items = corpus("benign_logistics.yml")
    results = [(item["text"], _agent(gate, item["text"])) for item in items]
    blocked = [(text, r.verdict.categories) for text, r in results if r.blocked]
    assert len(blocked) / len(items) <= 0.005, blocked
