"""What the inbox needs from a channel that delivers to patients: the :class:`Outlet` port.

The app registers one outlet provider per channel name (``app.state.outlets``: channel →
``provider(request) -> Outlet``); the inbox asks for the conversation's channel and gets None for a
channel that has no outlet (REST: the JSON answer is the delivery). The inbox never imports a channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from starlette.requests import Request

from bot.core.processor import OutgoingMessage


class Outlet(Protocol):
    templates: Mapping[str, Any]  # the approved content templates it can send (response name → template)
    sender: Any  # readiness and the 24-hour window (``ready()``, ``in_window(address)``)

    def check_window(self, address: str | None) -> None:
        """Raise :class:`bot.errors.OutsideWindowError` when free text may not be sent now."""

    def deliver(self, address: str, replies: list[OutgoingMessage]) -> list[dict[str, Any]]: ...

    def deliver_template(self, address: str, template: Any, text: str,
                         buttons: tuple[Mapping[str, str], ...] = (),
                         named: Mapping[str, str] | None = None) -> dict[str, Any]: ...

    def last_delivery(self, sender_id: str) -> dict[str, Any] | None: ...

    def deliveries(self, address: str) -> list[dict[str, Any]]: ...


OutletProvider = Callable[[Request], Outlet]


def outlet_for(request: Request, channel: str | None) -> Outlet | None:
    """The outlet of ``channel`` for this app, or None when the channel has none."""
    providers: Mapping[str, OutletProvider] = getattr(request.app.state, "outlets", None) or {}
    provider = providers.get(channel or "")
    return provider(request) if provider is not None else None
