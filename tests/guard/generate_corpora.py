"""Generate the large red-team corpora of tests/guard/corpus (deterministic: a fixed seed).

    .venv/bin/python tests/guard/generate_corpora.py

* ``evasion_generated.yml``: clinical phrases x evasion transforms — Unicode UTS #39 confusables (by script
  family: Cyrillic, Greek, Armenian, Cherokee, IPA/Latin, mathematical, fullwidth, any), small capitals,
  bidi controls around a reversed word, leetspeak with symbols, spacing and punctuation inside words,
  zero-width characters, stacked combining marks, mixtures; brand names, antiretroviral prophylaxis,
  findings in plain words, links to file-sharing sites (plain and obfuscated), staff text in another
  script. Every item must be blocked for an agent (``category`` names the transform class).
* ``benign_logistics.yml``: >= 1000 ordinary clinic messages (times, dates, prices, addresses, names,
  directions, payment, staff chit-chat in Mexican Spanish, the clinic's own links); none may be blocked.

The confusable substitutions are drawn from the shipped Unicode data (bot/guard/data/confusables.txt)
read here directly, not through the gate's own code. Original, synthetic text written for this project.
"""

from __future__ import annotations

import random
import unicodedata
from collections import defaultdict
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = HERE / "corpus"
DATA = ROOT / "bot" / "guard" / "data" / "confusables.txt"
SEED = 20261125

# --------------------------------------------------------------------------------------------------
# clinical phrases (every one must be blocked as it is, and after any transform)

CLINICAL = [
    # diagnoses
    "Su diagnóstico es diabetes tipo 2.",
    "La doctora confirmó que tiene hipertensión.",
    "Usted tiene VIH, le explicamos en consulta.",
    "Su biopsia salió maligna.",
    "Le detectaron cáncer de mama.",
    "Tiene depresión mayor según la valoración.",
    "Su hijo tiene asma.",
    "Es hipotiroidismo, nada grave.",
    "Resultó con preeclampsia.",
    "Tiene sífilis, avise a su pareja.",
    "Su papá tiene insuficiencia renal.",
    "El niño tiene neumonía.",
    "Usted está embarazada, felicidades.",
    "Le salió el VPH en el papanicolaou.",
    "Tiene hígado graso.",
    "Your diagnosis is diabetes.",
    "You tested positive for HIV.",
    # medications, generic and brand
    "Siga tomando metformina 850 mg.",
    "Le recetamos Glucophage cada 12 horas.",
    "Continúe con su Ozempic semanal.",
    "El doctor le cambió a Jardiance.",
    "Tome Tafil antes de dormir.",
    "Le mandaron Rivotril para dormir.",
    "Su receta de Lexapro está lista.",
    "Siga con el Zoloft.",
    "Le indicamos Augmentin por siete días.",
    "Compre Ciprobac y tómelo con agua.",
    "Tome Flanax si tiene dolor.",
    "Le recetaron Lipitor para el colesterol.",
    "Siga con su Euthyrox en ayunas.",
    "Le dejamos Viagra en la receta.",
    "Le recetaron Cialis.",
    "Tome Prozac diario.",
    "Le cambiamos a Micardis.",
    "Siga tomando Concor.",
    "Le recetamos Voltaren.",
    "Compre Dolo-Neurobión.",
    "Tome Nexium en ayunas.",
    "Le recetamos Bactrim.",
    "Your Xanax prescription is ready.",
    # antiretroviral prophylaxis
    "Siga tomando Truvada todos los días.",
    "Ya está lista su PrEP.",
    "Le damos Descovy como profilaxis.",
    "Empiece la PEP hoy mismo.",
    "Su Biktarvy ya llegó.",
    "Siga con su tratamiento antirretroviral.",
    "Le cambiamos a Atripla.",
    "Tome tenofovir con emtricitabina.",
    "Su dolutegravir está en farmacia.",
    # findings in plain words
    "Sus pulmones se ven limpios.",
    "Salió todo bien en sus análisis.",
    "Sus niveles están altos.",
    "El estudio salió normal.",
    "Ya no hay nada, se fue por completo.",
    "Su azúcar ya está controlada.",
    "Salió negativo, no se preocupe.",
    "Su prueba fue positiva.",
    "Salió reactivo.",
    "Todo dentro de rango.",
    "Sus valores están dentro de lo normal.",
    "El ultrasonido se ve limpio.",
    "La mastografía salió bien.",
    "Your labs came back normal.",
    # values
    "Su glucosa salió en 180 mg/dL.",
    "Su presión fue de 150/95.",
    "Hemoglobina glucosilada de 7.2 %.",
]

LINKS = [
    "Aquí están sus resultados: https://drive.google.com/file/d/1AbCdEf/view",
    "Le mandé el PDF por https://www.dropbox.com/s/abc123/estudio.pdf",
    "Descargue su estudio en https://we.tl/t-AbC123",
    "Sus análisis: https://mega.nz/file/AbC#123",
    "Vea su ultrasonido aquí: https://1drv.ms/b/s!AbC123",
    "Resultados en bit.ly/3AbCdEf",
    "Le comparto la carpeta: drive.google.com/drive/folders/1xYz",
    "Sus placas están en https://wetransfer.com/downloads/abc123",
    "Descargue aquí: tinyurl.com/resultados-ana",
    "Su receta: https://onedrive.live.com/redir?resid=ABC",
    "Chéquelo en https://docs.google.com/document/d/1AbC/edit",
    "Aquí el archivo: https://www.mediafire.com/file/abc/lab.pdf",
]
LINK_OBFUSCATIONS = [
    lambda u: u.replace(".", " . "),
    lambda u: u.replace(".", "[.]"),
    lambda u: u.replace(".", "(dot)"),
    lambda u: u.replace(".", " punto "),
    lambda u: u.replace("https", "hxxps"),
    lambda u: u.replace("https://", "hxxps[:]//"),
    lambda u: u.upper(),
    lambda u: u.replace("o", "о").replace("e", "е"),  # Cyrillic o / e
]
STAFF_OTHER_LINKS = [
    "Puede ver todo en https://misresultados-clinica.net/ana",
    "Entre a www.laboratorio-privado.com.mx para ver su estudio",
    "Le dejo el enlace http://192.168.10.4/estudios/123",
    "Revise https://paste.example.net/AbC",
]
OTHER_SCRIPT = [
    "Су диагностико эс диабетес",
    "Σας διάγνωση διαβήτης",
    "Ваш анализ положительный",
    "Ձեր ախտորոշումը շաքարախտ է",
    "ᏧᏂᏲᏍᏗ ᎠᏍᎦᏯ",
    "您的诊断是糖尿病",
    "تشخيصك هو السكري",
    "आपका निदान मधुमेह है",
    "Рез. в порядке, ВИЧ отрицательный",
    "ሰላም ውጤትዎ ዝግጁ ነው",
]

SMALL_CAPS = dict(zip("abcdefghijklmnopqrstuvwxyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘꞯʀꜱᴛᴜᴠᴡxʏᴢ", strict=True))
LEET = {
    "a": ["4", "@", "/\\"], "b": ["8", "|3"], "c": ["(", "¢"], "d": ["|)"], "e": ["3", "€"],
    "g": ["9"], "h": ["|-|"], "i": ["1", "!", "|"], "l": ["1", "|"], "o": ["0", "()", "[]"],
    "s": ["5", "$"], "t": ["7", "+"], "z": ["2"],
}
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
BIDI = ["\u202e", "\u202d", "\u202b", "\u202a", "\u2067", "\u2066", "\u2068"]
FAMILIES = {
    "cyrillic": ("CYRILLIC",),
    "greek": ("GREEK", "COPTIC"),
    "armenian": ("ARMENIAN",),
    "cherokee": ("CHEROKEE",),
    "ipa_latin": ("LATIN",),
    "math": ("MATHEMATICAL",),
    "fullwidth": ("FULLWIDTH",),
}


def confusable_sources() -> dict[str, list[str]]:
    """ASCII letter -> characters whose UTS #39 prototype is that letter (either case)."""
    out: dict[str, list[str]] = defaultdict(list)
    for line in DATA.read_text(encoding="utf-8-sig").splitlines():
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        source, target, _ = (part.strip() for part in body.split(";"))
        proto = "".join(chr(int(cp, 16)) for cp in target.split())
        ch = chr(int(source, 16))
        if len(proto) == 1 and proto.isascii() and proto.isalpha() and unicodedata.name(ch, ""):
            out[proto.lower()].append(ch)
    return out


def _family(ch: str) -> str:
    name = unicodedata.name(ch, "")
    for family, prefixes in FAMILIES.items():
        if any(p in name.split(" ")[0:2] or name.startswith(p) for p in prefixes):
            return family
    return "other"


class Transforms:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sources = confusable_sources()
        self.by_family: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for letter, chars in self.sources.items():
            for ch in chars:
                self.by_family[_family(ch)][letter].append(ch)

    def confusable(self, text: str, family: str | None = None, rate: float = 0.6) -> str:
        table = self.sources if family is None else self.by_family[family]
        out = []
        for ch in text:
            base = unicodedata.normalize("NFD", ch)[0].lower()
            options = table.get(base) if ch.isascii() or base != ch.lower() else None
            if options and self.rng.random() < rate:
                out.append(self.rng.choice(options))
            else:
                out.append(ch)
        return "".join(out)

    def small_caps(self, text: str) -> str:
        plain = unicodedata.normalize("NFD", text)
        return "".join(SMALL_CAPS.get(c.lower(), c) for c in plain if unicodedata.category(c) != "Mn")

    def leet(self, text: str, rate: float = 0.7) -> str:
        out = []
        for ch in unicodedata.normalize("NFC", text):
            options = LEET.get(ch.lower())
            out.append(self.rng.choice(options) if options and self.rng.random() < rate else ch)
        return "".join(out)

    def zero_width(self, text: str) -> str:
        return "".join(c + (self.rng.choice(ZERO_WIDTH) if c.isalpha() else "") for c in text)

    def combining(self, text: str) -> str:
        marks = ["\u0301", "\u0300", "\u0308", "\u0336", "\u0331", "\u0323", "\u030c", "\u0337"]
        return "".join(c + ("".join(self.rng.sample(marks, 2)) if c.isalpha() else "") for c in text)

    def spacing(self, text: str) -> str:
        sep = self.rng.choice([" ", ".", "-", "_", " . ", "/", "*", "·"])
        words = text.split(" ")
        longest = max(range(len(words)), key=lambda i: len(words[i].strip(".,")))
        words[longest] = sep.join(words[longest])
        return " ".join(words)

    def bidi(self, text: str) -> str:
        words = text.split(" ")
        i = max(range(len(words)), key=lambda k: len(words[k].strip(".,")))
        control = self.rng.choice(BIDI)
        close = "\u2069" if control in "\u2066\u2067\u2068" else "\u202c"
        if control == "\u202e":
            words[i] = control + words[i][::-1] + close
        else:
            words[i] = control + words[i] + close
        return " ".join(words)

    def bidi_marks(self, text: str) -> str:
        mark = self.rng.choice(["\u200e", "\u200f", "\u061c"])
        return "".join(c + (mark if c.isalpha() and self.rng.random() < 0.3 else "") for c in text)


def evasion_items(rng: random.Random) -> list[dict[str, object]]:
    t = Transforms(rng)
    items: list[dict[str, object]] = []

    def add(text: str, category: str) -> None:
        items.append({"text": text, "category": category, "lang": "es"})

    for phrase in CLINICAL:
        add(phrase, "plain")
        for family in FAMILIES:
            for rate in (0.5, 1.0):
                add(t.confusable(phrase, family, rate), f"uts39_{family}")
        for _ in range(6):
            add(t.confusable(phrase, None, rng.choice([0.3, 0.6, 1.0])), "uts39_any")
        for _ in range(2):
            add(t.small_caps(phrase), "small_caps")
        for _ in range(6):
            add(t.leet(phrase, rng.choice([0.4, 0.7, 1.0])), "leet")
        for _ in range(3):
            add(t.spacing(phrase), "spacing")
        for _ in range(2):
            add(t.zero_width(phrase), "zero_width")
        add(t.combining(phrase), "combining")
        for _ in range(3):
            add(t.bidi(phrase), "bidi")
        add(t.bidi_marks(phrase), "bidi")
        for _ in range(5):
            mixed = phrase
            for step in rng.sample(["conf", "zw", "leet", "caps", "comb"], 2):
                mixed = {
                    "conf": lambda s: t.confusable(s, None, 0.5),
                    "zw": t.zero_width,
                    "leet": lambda s: t.leet(s, 0.5),
                    "caps": t.small_caps,
                    "comb": t.combining,
                }[step](mixed)
            add(mixed, "mixed")
    for link in LINKS:
        add(link, "link")
        for obfuscate in LINK_OBFUSCATIONS:
            add(obfuscate(link), "link_obfuscated")
    for link in STAFF_OTHER_LINKS:
        add(link, "link_staff")
    for text in OTHER_SCRIPT:
        add(text, "script")
    seen: set[str] = set()
    unique = []
    for item in items:
        if item["text"] not in seen:
            seen.add(str(item["text"]))
            unique.append(item)
    return unique


# --------------------------------------------------------------------------------------------------
# benign logistics

NAMES = ["Ana", "Sra. Pérez", "Sr. Ramírez", "Lupita", "Don José", "Mariana", "Sra. Hernández", "Juan Carlos",
         "Sofía", "Sr. Gutiérrez", "Fernanda", "Doña Carmen", "Luis", "Sra. Ibarra", "Ximena", "Rodrigo"]
DOCTORS = ["la Dra. López", "el Dr. Castillo", "la Dra. Herrera", "el Dr. Vega", "la Dra. Núñez",
           "el Dr. Ortiz"]
DAYS = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado"]
DATES = ["3 de diciembre", "15 de enero", "el 2 de febrero", "28/11", "12/01/2027", "1o de marzo",
         "el próximo lunes", "mañana", "pasado mañana", "el 24"]
TIMES = ["9:00", "10:30", "11:15 am", "12:00", "13:45", "4:30 pm", "16:00", "17:30", "18:00 hrs", "8 am",
         "las 10", "mediodía"]
PRICES = ["$500", "$650.00", "$1,200", "$850 MXN", "$300 pesos", "$1,500.00", "$90", "$2,400"]
PLACES = ["Av. Insurgentes Sur 1234, piso 3", "Calle Jacarandas 45, Col. Del Valle",
          "Torre B, consultorio 402",
          "Av. Revolución 1500, int. 5B", "Plaza Médica Sur, local 12", "el 2do piso junto al elevador",
          "C.P. 03100, CDMX", "la entrada por Eje 7"]
PHONES = ["55 1234 5678", "(55) 8765-4321", "+52 55 2233 4455", "5512345678", "800 123 4567"]
REFS = ["A1B2C3", "F-7781", "#4521", "JAC-2026-0042", "ref 88B2", "folio 7X91"]
LINKS_OWN = ["https://portal.consultorio-jacarandas.example/", "https://consultorio-jacarandas.example/aviso-de-privacidad",
             "https://maps.example.org/consultorio-jacarandas"]

TEMPLATES = [
    "Hola {name}, su cita es el {day} {date} a las {time} con {doctor}.",
    "Le recordamos su cita de mañana a las {time}. ¡Le esperamos!",
    "¡Listo, {name}! Quedó agendada su cita el {day} a las {time}.",
    "Su cita quedó cambiada al {day} {date}, {time}.",
    "Su cita del {day} quedó cancelada. ¿Desea reagendar?",
    "¿Le acomoda el {day} a las {time} o prefiere el {day2} a las {time2}?",
    "Tenemos espacio el {day} a las {time} y a las {time2}.",
    "La consulta cuesta {price}; aceptamos efectivo, tarjeta y transferencia.",
    "El costo de la consulta de primera vez es {price} y la subsecuente {price2}.",
    "Puede pagar por transferencia SPEI a la CLABE 012180001234567891, referencia {ref}.",
    "Recibimos su pago de {price}, gracias. Su folio es {ref}.",
    "Le enviamos la factura a su correo. Folio {ref}.",
    "Estamos en {place}. Hay estacionamiento en la esquina.",
    "Nuestra dirección: {place}. Llegando, pregunte en recepción.",
    "Para llegar, tome el metro a Zapata y camine 2 cuadras; estamos en {place}.",
    "Nuestro teléfono es {phone}, de lunes a viernes de 9:00 a 19:00.",
    "Si necesita algo más, llámenos al {phone}.",
    "Le pedimos llegar 10 minutos antes para registrarse, {name}.",
    "Recuerde traer su identificación oficial y su carnet.",
    "{doctor} tuvo una emergencia; ¿podemos moverle la cita al {day} a las {time}?",
    "{doctor} llega a las {time}, le pedimos paciencia.",
    "Hoy cerramos a las {time} por el puente.",
    "El {date} no abrimos por día festivo; abrimos de nuevo el {day}.",
    "Buenos días {name}, ¿nos confirma su asistencia del {day} a las {time}?",
    "Gracias por confirmar, {name}. Nos vemos el {day}.",
    "Su lugar quedó apartado para el {date} a las {time}.",
    "Su estudio quedó agendado el {day} a las {time}; venga en ayunas de 8 horas.",
    "Para su ultrasonido, tome 1 litro de agua una hora antes de su cita.",
    "Sus resultados ya están en su portal: {link}",
    "Puede consultar nuestro aviso de privacidad en {link}",
    "Así llega: {link}",
    "Entre a su portal seguro para ver la información: {link}",
    "¡Feliz cumpleaños, {name}! 🎉 Le desea todo el equipo del consultorio.",
    "Con gusto, {name} 😊 que tenga buen día.",
    "Perdón por la demora en responder, estamos con mucha gente hoy 🙏",
    "Ya quedó registrado su cambio de teléfono a {phone}.",
    "No se preocupe, {name}, todo listo para su cita del {day}.",
    "Su cita salió confirmada para el {day} a las {time}.",
    "Su reembolso de {price} sale el {day}.",
    "El estacionamiento cuesta {price} la hora; con su boleto sellado, la primera hora es gratis.",
    "Tenemos promoción: consulta + certificado médico por {price}.",
    "Le comparto el horario: lunes a viernes 9:00–19:00, sábados 9:00–14:00.",
    "¿A nombre de quién agendo la cita?",
    "¿Me comparte su fecha de nacimiento para ubicar su expediente?",
    "¿Me confirma su correo para enviarle la factura?",
    "Ok, {name}, le marco en 5 minutos.",
    "Sí, {name}, también atendemos los sábados hasta las 14:00.",
    "Por el momento ya no hay lugares el {day}; ¿le busco otro día?",
    "Ya no hay nada disponible esa semana, ¿le parece la siguiente?",
    "Todo bien con su pago, {name}. ¡Gracias!",
    "Su pago salió rechazado por el banco; ¿lo intentamos con otra tarjeta?",
    "La terminal ya funciona, puede pagar con tarjeta el {day}.",
    "Le escribe Lupita de recepción 👋 para confirmar su cita del {day}.",
    "Nos vemos el {day} {date} a las {time}, {name}. Cualquier cosa aquí estamos.",
    "El consultorio {room} queda al fondo del pasillo, a mano derecha.",
    "Hay elevador en la torre {tower}; suba al piso {floor}.",
    "Su número de turno es el {floor}, le llamaremos por su nombre.",
    "Llovió mucho y hay tráfico en Periférico, salga con tiempo 🚗",
    "¡Muchas gracias por su preferencia, {name}!",
    "Sí se puede facturar; necesitamos su RFC y su constancia de situación fiscal.",
    "El pago en OXXO se refleja en 24 horas. Referencia: {ref}.",
    "Aceptamos Visa, Mastercard y American Express; no aceptamos cheques.",
    "Le reenvío la ubicación y el número de recepción: {phone}.",
    "Su hijo tiene cita de pediatría el {day} a las {time} con {doctor}.",
    "Le confirmo: consulta general el {day} {date} a las {time}. Responda SÍ o NO.",
    "Quedó anotado, {name}: {day} a las {time}. 👍",
    "La sala de espera está en planta baja; la recepción, en el 1er piso.",
    "Le pedimos venir acompañado de un adulto si el paciente es menor de edad.",
    "El {day} atiende {doctor} de {time} a {time2}.",
    "Sus próximas citas: {date} a las {time} y {date2} a las {time2}.",
    "Hola {name} 👋 ¿todo bien con la dirección? Estamos en {place}.",
    "Si llega tarde más de 15 minutos tendremos que reagendar, {name}.",
    "¿Prefiere que le marquemos o seguimos por aquí?",
    "Su cita de control es el {day} a las {time}.",
    "Le recordamos que el {date} es su cita anual. ¿Le confirmo?",
    "El precio incluye la consulta y la revisión; no incluye estudios de laboratorio.",
    "Los estudios de laboratorio se pagan aparte en recepción.",
    "Nuestro laboratorio abre a las 7:00; llegue en ayunas.",
    "Su cita en laboratorio es el {day} a las {time}.",
    "¡Hola! Sí tenemos lugar hoy a las {time}, ¿se lo aparto?",
    "Buenas tardes, {name}. Le escribimos para reagendar la cita del {day}.",
    "Disculpe el trastorno, tuvimos que mover la agenda de {doctor}.",
    "Tome en cuenta que el {day} hay cierre de calles por el maratón.",
    "Tome asiento en la sala de espera y en un momento le llaman.",
    "El total a pagar es de {price}, IVA incluido.",
    "Le damos 10 % de descuento pagando en efectivo: {price}.",
    "Su saldo pendiente es de {price}.",
    "Le aplicamos su anticipo de {price2}; resta {price}.",
    "Le mando la liga de pago: {link}",
    "Estamos a 5 minutos del metro Zapata, salida 2.",
    "Enfrente hay un Sanborns y a un lado una farmacia.",
    "Hay rampa y elevador para silla de ruedas.",
    "El wifi de la sala de espera es JacarandasInvitados, contraseña Bienvenidos2026.",
    "Buen fin de semana, {name} 🌞",
    "Sí, {name}, ya le llegó el recordatorio; era para el {day} a las {time}.",
    "¿Gusta que le mandemos recordatorios por aquí? Responda SÍ o NO.",
    "Ya no le enviaremos recordatorios, {name}. Para volver a recibirlos escriba ALTA.",
]


def _fill(template: str, rng: random.Random) -> str:
    values = {
        "name": rng.choice(NAMES), "doctor": rng.choice(DOCTORS), "day": rng.choice(DAYS),
        "day2": rng.choice(DAYS), "date": rng.choice(DATES), "date2": rng.choice(DATES),
        "time": rng.choice(TIMES), "time2": rng.choice(TIMES), "price": rng.choice(PRICES),
        "price2": rng.choice(PRICES), "place": rng.choice(PLACES), "phone": rng.choice(PHONES),
        "ref": rng.choice(REFS), "link": rng.choice(LINKS_OWN), "room": rng.choice(["4B", "12", "3", "201"]),
        "tower": rng.choice(["A", "B", "2"]), "floor": rng.choice(["2", "3", "7", "12"]),
    }
    text = template.format(**values)
    return text[0].upper() + text[1:]


def benign_items(rng: random.Random, target: int = 1200) -> list[dict[str, object]]:
    seen: set[str] = set()
    items: list[dict[str, object]] = []
    rounds = 0
    while len(items) < target and rounds < target * 20:
        rounds += 1
        template = TEMPLATES[rounds % len(TEMPLATES)]
        text = _fill(template, rng)
        if text in seen:
            continue
        seen.add(text)
        items.append({"text": text, "patient_specific": True, "lang": "es"})
    return items


def _dump(path: Path, header: str, items: list[dict[str, object]]) -> None:
    body = yaml.safe_dump({"items": items}, allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(header + body, encoding="utf-8")


def main() -> None:
    rng = random.Random(SEED)
    evasion = evasion_items(rng)
    benign = benign_items(rng)
    _dump(OUT / "evasion_generated.yml",
          "# GENERATED by tests/guard/generate_corpora.py (do not edit by hand). Clinical phrases x evasion\n"
          "# transforms; every item must be blocked when an agent sends it. category = the transform\n"
          "# class.\n",
          evasion)
    _dump(OUT / "benign_logistics.yml",
          "# GENERATED by tests/guard/generate_corpora.py (do not edit by hand). Ordinary clinic messages\n"
          "# (patient-specific, as a person in the inbox writes them); none may be blocked.\n",
          benign)
    print(f"evasion_generated.yml: {len(evasion)} items; benign_logistics.yml: {len(benign)} items")


if __name__ == "__main__":
    main()
