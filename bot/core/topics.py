"""What a question is about, read from its words: a detail of one service (price, duration, physician) or a
topic of the clinic's FAQ (payment, insurance, invoices, parking, accessibility, what to bring,
preparation). Pure text functions on folded text (bot/core/readers.py ``fold``).
"""

from __future__ import annotations

import re

from bot.core.readers import fold

#: Words of an appointment (with the usual misspellings), on folded text: the one list the script, the
#: clinical policy and the emergency policy read ("tengo diabetes y quiero mi cita de control").
APPOINTMENT_WORDS = re.compile(r"\b(?:[cs]itas?|[ck]o[n]?sultas?|agend\w*|apart\w*|reserv\w*|turnos?|control|"
                               r"revision|chequeo)\b")

# -- a question about one service -------------------------------------------------------------------
DURATION = re.compile(r"\b(?:cuanto (?:tiempo )?dura|duracion|cuanto tarda|cuanto se tarda|cuanto tiempo)\b")
PHYSICIAN = re.compile(r"\b(?:quien (?:me |la |lo )?(?:atiende|atenderia|va a atender|da la consulta)|"
                       r"que (?:doctor|doctora|"
                       r"medico|medica)|con quien (?:seria|es|me toca)|nombre del (?:doctor|medico)|"
                       r"quien es (?:el|la) (?:doctor|doctora)|"
                       r"quienes son (?:los|las) (?:doctor\w*|medic\w*)|"
                       r"que (?:doctores|doctoras|medicos|especialistas)|cuantos (?:doctores|medicos)|"
                       r"(?:esta|viene|atiende|trabaja) (?:la|el) (?:dra|doctora|dr|doctor)\b)")
#: On which days a service is given ("¿qué días viene el pediatra?", "¿cuándo hacen ultrasonidos?").
DAYS = re.compile(r"\b(?:que dias|cuales dias|cuando (?:atiende\w*|viene|esta|dan|hacen|hay|da)|"
                  r"dias (?:que|de) (?:atiende|consulta|viene))\b")
PRICE = re.compile(r"\b(?:cuanto (?:cuesta|cobran?|sale|es|le debo|seria|vale)|precio|costo|que tan caro)\b")


#: Where the clinic is, and when it opens: asked next to another request ("¿dónde están? y quiero cita").
LOCATION = re.compile(r"\b(?:donde (?:estan|quedan|se ubican|es el consultorio|esta el consultorio)|"
                      r"direccion|ubicacion|como llego)\b")
HOURS = re.compile(r"\b(?:a que hora (?:abren|cierran)|que horarios? (?:tienen|manejan)|"
                   r"horario de atencion)\b")


def asks_detail(text: str) -> bool:
    """A question about the price, duration, physician or days of a service."""
    t = fold(text)
    return bool(DURATION.search(t) or PHYSICIAN.search(t) or PRICE.search(t) or DAYS.search(t))




# -- a frequently asked question (answers in clinic.yml's ``faq:``, actions/faq.py) ----------------------
FAQ_TOPICS: dict[str, re.Pattern[str]] = {
    "payment": re.compile(r"\b(?:tarjetas?|efectivo|transferencias?|transferir\w*|formas? de pago|"
                          r"metodos? de pago|"
                          r"como (?:se )?pag\w*|pagar con|pago con|terminal|meses sin intereses|msi|debito|"
                          r"credito|amex|american express|visa|mastercard|vales|spei|deposito|se paga|"
                          r"por adelantado|anticipo)\b"),
    "insurance": re.compile(r"\b(?:seguros?(?! de auto| de vida)|aseguradoras?|gastos medicos|gnp|axa|"
                            r"metlife|imss|issste|polizas?|reembolso)\b"),
    "invoice": re.compile(r"\b(?:factur\w*|fcatur\w*|cfdi|rfc|recibo (?:deducible|fiscal)|deducible|"
                          r"comprobante fiscal)\b"),
    "parking": re.compile(r"\b(?:estacionamiento|estacionar\w*|cajon\w*|parking|valet|parquimetros?|"
                          r"dejo el (?:carro|coche)|dejar (?:mi|el) (?:carro|coche|camioneta))\b"),
    "accessibility": re.compile(r"\b(?:silla de ruedas|elevador|rampas?|accesibilidad|accesibles? para|"
                                r"discapacidad|escaleras|movilidad|planta baja|andadera|muletas|baston)\b"),
    "what_to_bring": re.compile(r"\b(?:que (?:debo |tengo que |necesito |ocupo )?(?:llevar|traer)|"
                                r"que documentos|"
                                r"identificacion|ine|llevo algo|traigo algo|que papeles|cartilla)\b"),
    "contact": re.compile(r"\b(?:telefono|numero de (?:telefono|contacto|la clinica|del consultorio)|"
                          r"a que numero|(?:les|los) (?:puedo )?llam\w*|correo|email|e mail)\b"),
    "preparation": re.compile(r"\b(?:ayun\w*|preparacion|prepararme|vejiga llena|tomar agua antes|"
                              r"como me preparo|indicaciones (?:para|antes)|sin comer|dejo de comer)\b"),
}


def faq_topics(text: str) -> list[str]:
    """Every clinic FAQ topic a message asks about, in the table's order ("¿aceptan tarjeta y tienen
    estacionamiento?" -> ["payment", "parking"])."""
    t = fold(text)
    return [topic for topic, rx in FAQ_TOPICS.items() if rx.search(t)]


def faq_topic(text: str) -> str | None:
    """The clinic FAQ topic a question is about ("¿aceptan tarjeta?" -> "payment"), if any."""
    found = faq_topics(text)
    return found[0] if found else None
