"""Per-category detection, obfuscation, spans in the original text and the logistics that must pass."""

from __future__ import annotations

import pytest

from bot.guard.gate import DisclosureGate


def cats(gate: DisclosureGate, text: str, patient_specific: bool = False) -> set[str]:
    return set(gate.check(text, patient_specific=patient_specific).categories)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Usted tiene diabetes", "diagnosis"),
        ("Confirmamos hipertensión", "diagnosis"),
        ("It looks like cancer", "diagnosis"),
        ("Resultado compatible con VIH", "diagnosis"),
        ("Depresión moderada", "diagnosis"),
        ("embarazo de alto riesgo", "diagnosis"),
        ("cáncer en estadio 2", "diagnosis"),
        ("glucosa 180 mg/dL", "lab_result"),
        ("HbA1c 7.2 %", "lab_result"),
        ("TSH 5.1", "lab_result"),
        ("PSA de 4.5", "lab_result"),
        ("colesterol 240", "lab_result"),
        ("triglicéridos: 300", "lab_result"),
        ("creatinina 2.1", "lab_result"),
        ("hemoglobina 10 g/dL", "lab_result"),
        ("leucocitos 15000", "lab_result"),
        ("180 de glucosa", "lab_result"),
        ("metformina 850 mg", "medication"),
        ("tome 1 tableta cada 8 horas", "medication"),
        ("dos veces al día", "medication"),
        ("500 mg", "medication"),
        ("ibuprofeno", "medication"),
        ("su tratamiento", "treatment"),
        ("debe tomar", "treatment"),
        ("quimioterapia", "treatment"),
        ("va mejorando", "progress"),
        ("su evolución", "progress"),
        ("está estable", "progress"),
        ("presión 140/90", "clinical_value"),
        ("120/80 mmHg", "clinical_value"),
        ("IMC de 31", "clinical_value"),
        ("su prueba salió positiva", "result_word"),
        ("resultado negativo", "result_word"),
        ("es benigno", "result_word"),
        ("maligno", "result_word"),
        ("no reactivo", "result_word"),
        ("sus análisis salieron alterados", "result_word"),
        ("su glucosa salió alta", "result_word"),
        ("the test came back positive", "result_word"),
        ("el ultrasonido salió normal", "imaging_result"),
        ("nódulo de 1 cm", "imaging_result"),
        ("BI-RADS 4", "imaging_result"),
        ("Dx", "abbreviation"),
        ("Rx", "abbreviation"),
        ("HbA1c", "abbreviation"),
        ("PSA", "abbreviation"),
        ("PAP", "abbreviation"),
        ("VIH", "diagnosis"),
        ("HIV", "diagnosis"),
    ],
)
def test_category(gate: DisclosureGate, text: str, category: str) -> None:
    assert category in cats(gate, text)


@pytest.mark.parametrize(
    "text",
    [
        "d1agnóstico",
        "d.i.a.g.n.o.s.t.i.c.o",
        "d i a g n ó s t i c o",
        "D-I-A-B-E-T-E-S",
        "DIAGNÓSTICO",
        "diagnostico",
        "dIaGnÓsTiCo",
        "d1@gn0st1c0",
        "diag\u200bnós\u200dtico",
        "\ufeffdiabetes",
        "dіаgnóstісо",  # Cyrillic і, а, с
        "ԁiabetes",
        "ｄｉａｂｅｔｅｓ",
        "𝐝𝐢𝐚𝐛𝐞𝐭𝐞𝐬",
        "diabe\u0301tes",
        "diaaabeeetes",
        "di*abe*tes",
        "diab etes",
        "cánc3r",
        "h1v",
        "v.i.h.",
        "5ida",
        "m3tf0rmina",
    ],
)
def test_obfuscation_is_caught(gate: DisclosureGate, text: str) -> None:
    assert not gate.check(text).allowed, text


def test_spaced_prefix_is_obfuscation(gate: DisclosureGate) -> None:
    verdict = gate.check("su d i a g n es malo")
    assert "obfuscation" in verdict.categories


@pytest.mark.parametrize(
    "text",
    [
        "Su d1agnóstico es DIABETES",
        "x\u200by d.i.a.g.n.o.s.t.i.c.o z",
        "Hola 👋 ¿cómo está? Su glucosa salió en 180 mg/dL",
        "ＨｂＡ１ｃ 7.2 % y diabe\u0301tes",
        "Tiene dіаbеtеs y toma m3tf0rmina",
    ],
)
def test_spans_map_to_the_original_text(gate: DisclosureGate, text: str) -> None:
    from bot.guard.normalise import views

    verdict = gate.check(text)
    assert verdict.spans
    for span in verdict.spans:
        assert 0 <= span.start < span.end <= len(text)
        piece = text[span.start:span.end]
        # the original slice normalises to something containing the canonical term's letters
        canonical = views(piece).words.replace(" ", "")
        term = span.term.rstrip("*").replace(" ", "")
        readings = (canonical.replace("ı", "i"), canonical.replace("ı", "l"))  # "ı": drawn as i and as l
        if span.category not in ("lab_result", "medication", "clinical_value"):
            assert any(term[:4] in r for r in readings), (piece, span)


def test_span_offsets_exact(gate: DisclosureGate) -> None:
    text = "Hola Sra. Pérez, su d1agnóstico es hipertensión."
    spans = {text[s.start:s.end] for s in gate.check(text).spans}
    assert spans == {"d1agnóstico", "hipertensión"}
    zw = "Su v\u200bi\u200bh"
    (span,) = gate.check(zw).spans
    assert zw[span.start:span.end] == "v\u200bi\u200bh"


@pytest.mark.parametrize(
    "text",
    [
        "su cita es el martes 3 de diciembre a las 10:30 con la Dra. López",
        "la consulta cuesta $600",
        "Aplicación de vacunas",
        "traiga su identificación",
        "el resultado de su pago",
        "¿le confirmo la cita?",
        "Sus resultados ya están disponibles en su portal seguro.",
        "Venga en ayunas de 8 horas para su estudio.",
        "Tome 1 litro de agua una hora antes de su ultrasonido.",
        "Para continuar necesito su autorización para el tratamiento de sus datos personales.",
        "Debe tomar en cuenta que la consulta dura 30 minutos.",
        "La recepción está en planta baja.",
        "Ofrecemos control prenatal y ultrasonido.",
        "Recibimos su solicitud de acceso de datos personales. Le responderemos a más tardar el 5.",
        "El estudio de ultrasonido se realiza con la vejiga llena, está bien si toma agua.",
        "Gracias por su comentario positivo.",
        "Hay 3 lugares de estacionamiento y 2 elevadores.",
        "Su folio es 4455; su pago de $1,100 quedó registrado.",
        "Por su seguridad y privacidad médica, solo puedo compartir esa información en consulta o en su "
        "portal seguro. ¿Le ayudo a agendar una cita o a entrar a su portal?",
        "Ya tenemos vacuna contra la influenza.",
        "Disculpe el trastorno.",
        "Elisa, su cita es mañana a las 9.",
        "Having trouble finding us? Here is the map.",
    ],
)
def test_logistics_pass(gate: DisclosureGate, text: str) -> None:
    verdict = gate.check(text)
    assert verdict.allowed, verdict


def test_result_words_need_context(gate: DisclosureGate) -> None:
    assert gate.check("Tenemos una actitud positiva.").allowed
    assert not gate.check("Su prueba de embarazo salió positiva.").allowed
    assert gate.check("Su estudio es el lunes. Que le vaya bien.").allowed
    assert not gate.check("Sus estudios salieron bien.").allowed
    assert "result_word" in gate.check("Your biopsy is benign").categories


def test_sensitive_service_only_for_a_patient(gate: DisclosureGate) -> None:
    general = "Ofrecemos Control prenatal, Consulta de psiquiatría y Terapia psicológica."
    assert gate.check(general).allowed
    assert "sensitive_service" in gate.check(general, patient_specific=True).categories
    reminder = "Le recordamos su cita de Control prenatal el lunes a las 9."
    assert "sensitive_service" in gate.check(reminder, patient_specific=True).categories
    # a possessive gives it away even when the caller forgot the flag
    assert "sensitive_service" in gate.check(reminder).categories
    assert gate.check("Le recordamos su cita el lunes a las 9.", patient_specific=True).allowed
    # a non-sensitive service may be named
    assert gate.check("Su cita de Ultrasonido es el lunes.", patient_specific=True).allowed


def test_portal_is_the_only_exempt_channel(gate: DisclosureGate) -> None:
    text = "Su diagnóstico es diabetes"
    assert gate.check(text, channel="portal").allowed
    for channel in ("whatsapp", "sms", "rest", "console", "telegram", "WhatsApp", ""):
        assert not gate.check(text, channel=channel).allowed, channel
