"""``bot shell``: a readable chat with the assistant in the terminal (same path and gate as REST)."""

from __future__ import annotations

import argparse
import sys

from bot.core.identity import namespaced
from bot.core.processor import UserMessage


def shell_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bot.app.wiring import build_app_state

    console = Console()
    console.print("[dim]Cargando el asistente…[/dim]")
    state = build_app_state()
    console.print("[bold]Asistente listo.[/bold] Escriba su mensaje (Ctrl+D o /salir para terminar).\n")
    while True:
        try:
            text = console.input("[bold cyan]Usted:[/bold cyan] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        if text.strip() in ("/salir", "/exit", "/quit"):
            break
        message = UserMessage(sender_id=namespaced("console", args.sender), text=text, channel="console")
        replies = state.processor.handle(message)
        for reply in replies:
            console.print(f"[bold green]Asistente:[/bold green] {reply.text}")
        if not replies:
            console.print(
                "[dim](sin respuesta automática: una persona del equipo atiende esta conversación)[/dim]"
            )
    state.close()
    sys.stdout.flush()
    return 0
