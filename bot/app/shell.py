"""``bot shell``: builds the assistant and chats with it in the terminal (:mod:`bot.channels.console`)."""

from __future__ import annotations

import argparse
import sys


def shell_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bot.app.wiring import build_app_state
    from bot.channels.console import chat

    console = Console()
    console.print("[dim]Cargando el asistente…[/dim]")
    state = build_app_state()
    console.print("[bold]Asistente listo.[/bold] Escriba su mensaje (Ctrl+D o /salir para terminar).\n")
    try:
        chat(state.processor, args.sender, console)
    finally:
        state.close()
    sys.stdout.flush()
    return 0
