"""Emergencies first, in every phase — even before consent, during a handoff or after an opt-out."""

from __future__ import annotations

import re
import unicodedata

from bot.core.dialogue import Decision, Turn
from bot.core.topics import APPOINTMENT_WORDS

#: A deterministic safety net under the NLU model: these phrases always get the emergency answer (which
#: only tells the patient to call the emergency number; a false alarm costs one message, a miss can cost a
#: life). Accents are folded first; grouped by what they describe.
_EMERGENCY_PHRASES = (
    # breathing, choking, cyanosis, anaphylaxis
    r"no (?:puedo|puede|podemos) respirar|no respir|me (?:estoy )?ahog|se (?:esta )?ahog|asfixi|"
    r"(?:me|le) falta (?:el )?aire|(?:me|le) cuesta (?:mucho )?respirar|dificultad para respirar|"
    r"ataque de asma|labios morados|(?:poniendo|puso) (?:morad|azul)|atragant|reaccion alergica|"
    r"(?:cierra|cerrando|hinch\w*) (?:\w+ )?(?:la garganta|la lengua|la cara)|"
    r"(?:garganta|lengua)(?: \w+){0,2} (?:hinch|cerr)|not breathing|isn'?t breathing|can'?t breathe",
    # heart
    r"(?:duel\w*|dolor|presion|opresion|aprieta|apretando|cierra|punzada)(?: \w+){0,3} "
    r"(?:el |en el |del |de )?pecho|infarto|paro cardiaco|siento que me muero|se (?:esta|nos) muer|"
    r"chest (?:pain|hurts)|my chest|heart attack|doliendo(?: \w+){0,2} (?:el )?pecho",
    # self-harm, suicide, overdose
    r"suicid|me quiero (?:morir|matar|cortar)|quiero (?:morirme|matarme|cortarme)|matarme|"
    r"ya no quiero (?:vivir|estar viv)|no quiero (?:seguir )?(?:vivir|viviendo)|acabar con mi vida|"
    r"quitar(?:me)? la vida|hacerme dano|me voy a hacer dano|cortar(?:me)? las venas|me corte las venas|"
    r"(?:tome|tomo|trago|trague) (?:muchas|todas las|un (?:bote|frasco) de|una caja de|demasiadas) "
    r"pastillas|pastillas a proposito|sobredosis|overdose|kill(?:ing)? myself|end my life|hurt myself|"
    r"want to die|(?:don'?t|do not) want to live|too many pills|(?:lot|bunch) of pills|cut myself|"
    r"(?:comio|tomo|trago) (?:unas |muchas )?pastillas",
    # consciousness, seizures, stroke
    r"desmay|inconscien|perdi\w* el conocimiento|no (?:despierta|reacciona|responde|se mueve)|"
    r"convulsi|ataque epilep|se le paraliz|paralizad|no puede hablar|no puede mover|"
    r"cara (?:chueca|caida|torcida)|(?:cayo|caida) la cara|(?:durmio|adormecio) (?:medio|la mitad)|"
    r"derrame|embolia|no se puede mover|se esta muriendo|passed out|fainted|collapsed|not responding|"
    r"won'?t wake|unconscious|seizure|stroke|choking|trouble breathing",
    # bleeding, pregnancy
    r"hemorragia|sangr\w* (?:mucho|muchisimo|demasiado|sin parar|abundante|a chorros)|sangra y no para|"
    r"no (?:para|deja) de sangrar|perd\w* mucha sangre|se me rompio la fuente|se le rompio la fuente|"
    r"embarazada(?: \w+){0,3} sangr|sangr\w*(?: \w+){0,4} (?:semanas|embaraz)|bleeding|lot of blood",
    # poisoning
    r"envenen|intoxic|veneno|raticida|(?:tomo|trago|comio|bebio) (?:\w+ )?(?:cloro|thinner|liquido para "
    r"limpiar|pilas?|moneda)|(?:botella|bote|vaso) de cloro|(?:se tomo|se trago) (?:\w+ )?"
    r"(?:pastillas|medicina)|bleach|poison|swallowed",
    # injuries, burns, shocks, bites
    r"emergencia|urgencia|accidente|chocamos|un choque|choque en|atropell|herid[oa]s?\b|"
    r"quemadura\w* grave|(?:agua|aceite) hirviendo|se (?:quemo|electrocuto)|electrocut|descarga electrica|"
    r"(?:golpe|pego|pegue)(?: \w+){0,3} (?:en )?la cabeza|se cayo de (?:la |una )?(?:azotea|escalera|"
    r"altura|techo)|(?:pico|mordio) (?:un |una )?(?:alacran|arana|vibora|serpiente|escorpion)|"
    r"hit by a car|car accident|snake bite|scorpion",
    # someone asking for help or an ambulance
    # "socorro" / "auxilio" as a cry, never as a name ("Socorro Amparo Luna", "me llamo Socorro")
    r"ambulancia|ambulance|"
    r"(?<!llamo )(?<!llama )(?<!nombre de )(?:socorro|auxilio)(?=\W*$|\s*[!¡]|,? (?:ayuda|auxilio|socorro|"
    r"por ?favor|es urgente|urgente|mi |se |no |que |alguien))|"
    r"ayuda (?:urgente|es urgente|porfavor es urgente)|"
    r"urgente(?: \w+)? ayuda|necesito ayuda urgente|ayuda,? es urgente|"
    r"^\W*(?:ayuda+|help(?: me)?(?: please)?)"
    r"\W*$|help,? (?:it'?s an )?emergency|emergency",
)
_PATTERNS = re.compile("|".join(_EMERGENCY_PHRASES), re.IGNORECASE)
#: "una cita urgente, no es emergencia": said not to be one.
_NOT_AN_EMERGENCY = re.compile(r"\bno (?:es|era|fue) (?:una |ninguna )?(?:emergencia|urgencia)\b")


#: Words of an appointment request (bot/core/topics.py), "horario", and not making it to one ("me surgió
#: algo, no voy a poder ir"): an unsure model on them is not an emergency.
_HOURS = re.compile(r"\bhorarios?\b|\bno (?:voy a )?(?:poder|puedo|podre|alcanzo a) (?:ir|asistir|llegar)\b|"
                    r"\bme surgio\b|\bimprevisto\b|\bse me complico\b")
_SURE = 0.8


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


class EmergencyPolicy:
    name = "EmergencyPolicy"

    def __init__(self, min_confidence: float = 0.3) -> None:
        self.min_confidence = min_confidence

    def predict(self, turn: Turn) -> Decision | None:
        text = _NOT_AN_EMERGENCY.sub(" ", _fold(turn.text).lower())
        if _PATTERNS.search(text):
            return Decision(self.name, ("utter_emergency",))
        # an unsure model on a message about appointments ("se puede hacer sita?") is not an emergency;
        # the phrases above still catch every emergency that also mentions an appointment
        floor = _SURE if APPOINTMENT_WORDS.search(text) or _HOURS.search(text) else self.min_confidence
        by_model = turn.intent == "emergency" and turn.confidence >= floor
        ranked = any(
            r.get("name") == "emergency" and float(r.get("confidence", 0)) >= max(0.5, floor)
            for r in turn.parse.get("intent_ranking") or ()
        )
        if by_model or ranked:
            return Decision(self.name, ("utter_emergency",))
        return None
