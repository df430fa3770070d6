"""One question may invite a second detail (domain.yml ``also_expects``): the consent asks for the full name
too, and the service and name questions ask for the day while none is known. What comes is kept; what does
not is asked next. Phrasings are combined here the way patients type them (with and without accents,
capitals, punctuation or none), apart from the NLU data."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from bot.core.domain import parse_domain
from bot.errors import DomainError
from tests.flow.talk import chat

CONSENT = ["acepto", "Acepto", "ACEPTO", "si acepto", "Sí, acepto", "sí", "si claro", "de acuerdo",
           "ok acepto", "va, acepto"]
NAMES = ["Ana López", "ana lopez ruiz", "JUAN PÉREZ GARCÍA", "María José Hernández", "Luis Ángel Soto"]
JOIN = [", {n}", ". {n}", " {n}", ", me llamo {n}", ", a nombre de {n}", ", soy {n}"]




def _title(name: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in name.lower().split())


CASES = list(itertools.product(CONSENT, NAMES, JOIN))[::3]  # 100 of the 300, every form of each part


@pytest.mark.parametrize(("yes", "name", "join"), CASES)
def test_consent_and_name_in_one_message(app_state: Any, yes: str, name: str, join: str) -> None:
    sender = f"whatsapp:+1500555{abs(hash((yes, name, join))) % 10000:04d}"
    replies = chat(app_state, sender, "quiero una cita", yes + join.format(n=name))
    assert replies[0] == ["utter_consent_request_name"]
    assert replies[1] == ["utter_ask_service_time"], replies  # thanks + the next question, joined
    tracker = app_state.processor.tracker(sender)
    assert tracker.get_slot("person") == _title(name)
    assert app_state.services.consent.has(app_state.services.patient_ref(sender), "appointments")


@pytest.mark.parametrize(
    "text",
    ["sí, nutrición", "acepto gracias", "si acepto por favor", "ok", "acepto, para el jueves",
     "acepto, ¿cuánto cuesta?", "sí, pediatría el viernes"],
)
def test_what_is_not_a_name_is_never_kept_as_one(app_state: Any, text: str) -> None:
    sender = "whatsapp:+15005550177"
    chat(app_state, sender, "quiero una cita", text)
    assert app_state.processor.tracker(sender).get_slot("person") is None


def test_a_name_alone_is_kept_and_only_the_consent_is_asked_again(app_state: Any) -> None:
    sender = "whatsapp:+15005550178"
    replies = chat(app_state, sender, "quiero una cita", "Ana López Ruiz")
    assert replies[1] == ["utter_consent_reminder"]
    assert not app_state.services.consent.has(app_state.services.patient_ref(sender), "appointments")
    replies += chat(app_state, sender, "acepto", "pediatría")
    assert replies[2] == ["utter_ask_service_time"]
    assert replies[3] == ["utter_ask_time"]  # the name is not asked again
    assert app_state.processor.tracker(sender).get_slot("person") == "Ana López Ruiz"


def test_a_refusal_keeps_no_name(app_state: Any) -> None:
    sender = "whatsapp:+15005550179"
    replies = chat(app_state, sender, "quiero una cita", "no acepto, Ana López")
    assert replies[1] == ["utter_consent_declined"]
    assert app_state.processor.tracker(sender).get_slot("person") is None


def test_the_consent_for_a_reschedule_does_not_ask_for_a_name(app_state: Any) -> None:
    replies = chat(app_state, "whatsapp:+15005550180", "quiero cambiar mi cita")
    assert replies[0] == ["utter_consent_request"]


@pytest.mark.parametrize(
    ("answer", "slots"),
    [
        ("pediatría el jueves", {"service": "pediatria"}),
        ("nutricion, pal viernes en la mañana", {"service": "nutricion"}),
        ("CON LA GINECOLOGA EL LUNES DE LA OTRA SEMANA", {"service": "ginecologia"}),
    ],
)
def test_service_and_day_in_one_answer_go_straight_to_the_offers(
    app_state: Any, answer: str, slots: dict[str, str]
) -> None:
    sender = "whatsapp:+15005550181"
    replies = chat(app_state, sender, "quiero una cita", "acepto, Ana López", answer)
    assert replies[2][-1].startswith(("utter_booking_offers", "utter_offers_asked_")), replies
    tracker = app_state.processor.tracker(sender)
    assert {k: tracker.get_slot(k) for k in slots} == slots
    assert tracker.get_slot("time") is not None


def test_name_and_day_in_one_answer(app_state: Any) -> None:
    sender = "whatsapp:+15005550182"
    replies = chat(app_state, sender, "quiero cita con el pediatra", "acepto",
                    "Mateo López, el viernes en la tarde")
    assert replies[1] == ["utter_ask_person_time"]
    assert replies[2][-1].startswith(("utter_booking_offers", "utter_offers_asked_")), replies
    assert app_state.processor.tracker(sender).get_slot("person") == "Mateo López"


def test_a_day_alone_to_the_service_question_asks_the_service_alone(app_state: Any) -> None:
    sender = "whatsapp:+15005550183"
    replies = chat(app_state, sender, "quiero una cita", "acepto, Ana López", "el jueves")
    assert replies[2] == ["utter_ask_service"]  # not "Disculpe, no identifiqué": the day came and is kept
    assert app_state.processor.tracker(sender).get_slot("time") is not None


def _domain(extra: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(
        'version: "3.1"\nintents: [greet]\nresponses:\n  utter_x:\n    - text: "¿Sí?"\n'
        "      metadata: " + extra
    )


def test_also_expects_is_checked_when_the_domain_loads() -> None:
    spec = parse_domain(_domain("{expects: consent, also_expects: person}")).responses["utter_x"]
    assert (spec.expects, spec.also_expects) == ("consent", "person")
    with pytest.raises(DomainError, match="also_expects"):
        parse_domain(_domain("{expects: consent, also_expects: shoe_size}"))
    with pytest.raises(DomainError, match="also_expects needs expects"):
        parse_domain(_domain("{also_expects: person}"))
