"""The funnel as a table, JSON, CSV or a PNG (matplotlib, the ``plot`` extra): figures only."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bot.report.figures import SCORES, Figures

#: (label, field) in the order of the funnel; the labels are the clinic's language.
ROWS: tuple[tuple[str, str], ...] = (
    ("Conversaciones", "conversations"),
    ("Con consentimiento", "reached_consent"),
    ("Agendaron", "booked"),
    ("Conversión a cita (%)", "conversion_pct"),
    ("Citas agendadas", "appointments_booked"),
    ("Reprogramaciones", "rescheduled"),
    ("Cancelaciones", "cancelled"),
    ("Recordatorios enviados", "reminders_sent"),
    ("Recordatorios confirmados", "reminders_confirmed"),
    ("Asistieron", "attended"),
    ("No asistieron", "no_shows"),
    ("Seguimientos con consentimiento", "follow_ups_sent"),
    ("  después de la visita", "follow_ups_post_visit"),
    ("  ofertas de reagendar (no asistió)", "follow_ups_rebooking"),
    ("Respuestas de satisfacción", "satisfaction_responses"),
    ("Satisfacción media (1-5)", "satisfaction_mean"),
    ("Traspasos a una persona", "handoffs"),
    ("  resueltos y devueltos (limpios)", "handoffs_clean"),
    ("  abandonados", "handoffs_abandoned"),
    ("  abiertos", "handoffs_open"),
    ("Bajas (BAJA)", "opt_outs"),
    ("Bloqueos de divulgación: asistente", "blocks_assistant"),
    ("Bloqueos de divulgación: personal", "blocks_staff"),
)
#: the funnel's stages, widest first: the PNG's bars and the inbox page's (bot/report/page.py)
FUNNEL: tuple[tuple[str, str], ...] = (
    ("Conversaciones", "conversations"),
    ("Con consentimiento", "reached_consent"),
    ("Agendaron", "booked"),
    ("Asistieron", "attended"),
    ("Seguimientos", "follow_ups_sent"),
    ("Traspasos limpios", "handoffs_clean"),
)


def _value(figures: Figures, name: str) -> str:
    value = getattr(figures, name)
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}" if name == "conversion_pct" else f"{value:.2f}"
    return str(value)


def rows(figures: Figures) -> list[tuple[str, str]]:
    """(label, value as the table prints it) in the table's order; a sub-figure's label starts with two
    spaces. The inbox's page shows these, so that it and ``bot report`` cannot drift apart."""
    return [(label, _value(figures, name)) for label, name in ROWS]


def funnel(figures: Figures) -> list[tuple[str, int]]:
    """The funnel's stages and their counts (:data:`FUNNEL`)."""
    return [(label, int(getattr(figures, name))) for label, name in FUNNEL]


def table(figures: Figures, period: str | None = None) -> str:
    """``period``: how to name the period in the heading (default: its UTC bounds)."""
    utc = f"{figures.since or 'inicio'} — {figures.until or 'ahora'} (UTC)"
    head = f"Periodo: {period or utc}"
    width = max(len(label) for label, _ in ROWS)
    lines = [head, ""]
    lines += [f"{label:<{width}}  {_value(figures, name):>8}" for label, name in ROWS]
    dist = "  ".join(f"{s}:{figures.satisfaction[str(s)]}" for s in SCORES)
    lines.append(f"{'Distribución de satisfacción':<{width}}  {dist}")
    return "\n".join(lines)


def as_json(figures: Figures) -> str:
    return json.dumps(figures.as_dict(), ensure_ascii=False, indent=2)


def as_csv(figures: Figures) -> str:
    """One ``figure,value`` row per figure (the distribution as ``satisfaction_1`` … ``satisfaction_5``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("figure", "value"))
    for key, value in figures.as_dict().items():
        if key == "satisfaction":
            for score, n in value.items():
                writer.writerow((f"satisfaction_{score}", n))
        else:
            writer.writerow((key, "" if value is None else value))
    return out.getvalue()


def png(figures: Figures, weeks: Sequence[tuple[date, Figures]], path: str | Path) -> Path:
    """The funnel (horizontal bars) and a weekly trend of conversations and bookings, in one PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # the `plot` extra is not installed
        from bot.errors import ConfigError

        raise ConfigError("--png needs matplotlib: pip install 'clinic-bot[plot]'") from e
    stages = funnel(figures)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), gridspec_kw={"height_ratios": [3, 2]})
    labels = [s for s, _ in stages][::-1]
    values = [v for _, v in stages][::-1]
    bars = top.barh(labels, values, color=["#6c8ebf", "#82b366", "#d6b656", "#b85450", "#9673a6",
                                           "#2d7f7f"][::-1])
    for bar, value in zip(bars, values, strict=True):
        top.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value}", va="center")
    conv = "—" if figures.conversion_pct is None else f"{figures.conversion_pct:.1f} %"
    top.set_title(f"Embudo: {figures.booked} de {figures.conversations} agendaron ({conv})")
    top.set_xlim(0, max([*values, 1]) * 1.15)
    top.xaxis.get_major_locator().set_params(integer=True)
    top.spines[["top", "right"]].set_visible(False)
    if weeks:  # grouped bars: readable for one week as for twenty
        series = (("Conversaciones", "conversations", "#6c8ebf"), ("Agendaron", "booked", "#d6b656"),
                  ("Seguimientos", "follow_ups_sent", "#9673a6"), ("Traspasos", "handoffs", "#2d7f7f"))
        width = 0.8 / len(series)
        for i, (label, name, color) in enumerate(series):
            xs = [n + (i - (len(series) - 1) / 2) * width for n in range(len(weeks))]
            bottom.bar(xs, [getattr(f, name) for _, f in weeks], width, label=label, color=color)
        step = -(-len(weeks) // 12)  # at most 12 labels, so that they never overlap
        shown = list(range(0, len(weeks), step))
        bottom.set_xticks(shown, [weeks[n][0].strftime("%d/%m/%Y" if len(weeks) <= 6 else "%d/%m/%y")
                                  for n in shown], rotation=0 if len(weeks) <= 6 else 45, ha="center"
                          if len(weeks) <= 6 else "right")
        bottom.yaxis.get_major_locator().set_params(integer=True)
        top_value = max(max(getattr(f, name) for _, f in weeks) for _, name, _ in series)
        bottom.set_ylim(0, top_value * 1.35 + 1)  # room for the legend above the bars
        bottom.set_xlim(-0.5 - 0.5 * (len(weeks) < 3), len(weeks) - 0.5 + 0.5 * (len(weeks) < 3))
        bottom.legend(loc="upper center", ncol=len(series), fontsize="small", frameon=False)
    bottom.set_title("Tendencia semanal (semana que inicia el lunes)")
    bottom.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
