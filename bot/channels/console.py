"""The console channel: a readable chat with the assistant in the terminal (same path and gate as REST).

``bot shell`` (:mod:`bot.app.shell`) builds the assistant and hands its processor to :func:`chat`; the
channel itself knows nothing of the wiring. Console senders are namespaced (``console:<id>``), so a console
conversation is never a WhatsApp patient's.
"""

from __future__ import annotations

from typing import Any

from bot.core.identity import namespaced
from bot.core.processor import UserMessage

CHANNEL = "console"
QUIT = ("/salir", "/exit", "/quit")


def chat(processor: Any, sender: str, console: Any) -> None:
    """Read lines from ``console`` (a rich Console) until end of input or /salir; print the replies."""
    conversation = namespaced(CHANNEL, sender)
    while True:
        try:
            text = console.input("[bold cyan]Usted:[/bold cyan] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if text.strip() in QUIT:
            return
        replies = processor.handle(UserMessage(sender_id=conversation, text=text, channel=CHANNEL))
        for reply in replies:
            console.print(f"[bold green]Asistente:[/bold green] {reply.text}")
        if not replies:
            console.print(
                "[dim](sin respuesta automática: una persona del equipo atiende esta conversación)[/dim]"
            )
