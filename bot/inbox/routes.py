"""The agents' inbox over HTTP: ``/agent/conversations…`` (JSON, per-agent bearer tokens).

Listing, transcript, delivery states, messages, templates and the hand-back. Every handler authenticates
first (:mod:`bot.inbox.auth`), addresses conversations by the inbox's opaque id only, audits what a person
saw or did, and delivers through the conversation's :class:`~bot.inbox.outlet.Outlet` (the WhatsApp
channel), or answers in JSON alone for channels without one (REST). See docs/agents.md.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.core.processor import AgentTextRefused
from bot.errors import ConfigError, DeliveryError, OutsideWindowError
from bot.inbox.outlet import Outlet, outlet_for

log = logging.getLogger("bot.inbox")

async def _agent_authorised(request: Request) -> tuple[Any, JSONResponse | None]:
    """The caller (:class:`bot.inbox.auth.Identity`: a per-agent token, or the deprecated shared
    ``BOT_AGENT_TOKEN``), or the 401/503 answer."""
    from bot.inbox.auth import authenticate

    return await authenticate(request)


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


T = TypeVar("T")
MAX_AGENT_TEXT = 1600  # one WhatsApp message
TEMPLATE_NEEDED = (
    "the patient last wrote more than 24 hours ago: WhatsApp allows only an approved template now; "
    "nothing was sent or recorded"
)


def _outlet(request: Request, channel: str | None) -> Outlet | None:
    """The channel object that delivers to this conversation, or None (REST: the JSON answer is all)."""
    return outlet_for(request, channel)


async def _resolve(request: Request) -> tuple[Any, JSONResponse | None]:
    """The conversation behind ``{conversation_id}`` (the inbox's opaque id), or a 404."""
    app_state = request.app.state.app_state
    try:
        return await run_in_threadpool(app_state.conversation, request.path_params["conversation_id"]), None
    except LookupError as e:
        return None, _error(404, str(e))


def _delivery_error(e: Exception) -> JSONResponse | None:
    """The JSON answer for a delivery problem, or None when ``e`` is not one."""
    if isinstance(e, AgentTextRefused):
        from bot.guard.gate import explain

        return _error(422, "the text was not sent to the patient: rewrite it", categories=list(e.categories),
                      reasons=explain(e.categories), sent=False)
    if isinstance(e, OutsideWindowError):
        return _error(409, TEMPLATE_NEEDED, template_required=True)
    if isinstance(e, DeliveryError):
        return _error(502, "Twilio refused the message; it is recorded in the conversation but was not "
                      "delivered (see the deliveries)", recorded=True)
    if isinstance(e, ConfigError):
        return _error(503, str(e))
    return None


async def _deliver(work: Callable[[], T]) -> T | JSONResponse:
    """Run an agent's action (record, then deliver) off the event loop: its result, or the JSON answer
    for a conversation not in handoff (409) or a delivery problem (see :func:`_delivery_error`)."""
    try:
        return await run_in_threadpool(work)
    except LookupError as e:
        return _error(409, str(e))
    except Exception as e:
        answer = _delivery_error(e)
        if answer is None:
            raise
        return answer


async def list_conversations(request: Request) -> JSONResponse:
    """``GET /agent/conversations?status=handoff``: who waits for a person (no bodies, no numbers)."""
    _, problem = await _agent_authorised(request)
    if problem is not None:
        return problem
    if request.query_params.get("status", "handoff") != "handoff":
        return _error(400, "only status=handoff is supported")
    from bot.inbox.directory import listing

    directory = getattr(request.app.state.app_state, "directory", None)
    waiting = await run_in_threadpool(directory.waiting) if directory is not None else []
    out = []
    for conversation in waiting:
        outlet = _outlet(request, conversation.channel)
        last = None
        if outlet is not None:
            last = await run_in_threadpool(outlet.last_delivery, conversation.sender_id)
        out.append(listing(conversation, last))
    return JSONResponse({"conversations": out})


async def get_conversation(request: Request) -> JSONResponse:
    """``GET /agent/conversations/{id}``: the transcript, for staff; audited as ``staff:<agent>`` (the
    token's agent; with the shared token, the ``X-Agent-Id`` header)."""
    identity, problem = await _agent_authorised(request)
    if problem is not None:
        return problem
    from bot.inbox.auth import acting_agent

    agent, problem = acting_agent(identity, [request.headers.get("x-agent-id")], what="X-Agent-Id header")
    if problem is not None:
        return problem
    app_state = request.app.state.app_state
    try:
        body = await run_in_threadpool(
            app_state.transcript, request.path_params["conversation_id"], agent
        )
    except LookupError as e:
        return _error(404, str(e))
    return JSONResponse(body, headers={"cache-control": "no-store"})


async def hand_back(request: Request) -> JSONResponse:
    """An agent returns a conversation to the assistant, which resumes the phase it left and says so to
    the patient on the conversation's channel. ``{"notify": false}`` returns it silently (e.g. after the
    WhatsApp window closed). The agent: the token's (shared token: ``{"agent": id}`` or ``X-Agent-Id``)."""
    identity, problem = await _agent_authorised(request)
    if problem is not None:
        return problem
    from bot import edge
    from bot.inbox.auth import acting_agent

    try:
        raw = await edge.read_body(request)
        data: Any = edge.parse_json(raw) if raw else {}
    except edge.EdgeError as e:
        return e.response()
    if not isinstance(data, dict) or not isinstance(data.get("notify", True), bool):
        return _error(400, 'expected a JSON object {"agent"?: str, "notify"?: bool}')
    agent, problem = acting_agent(identity, [data.get("agent"), request.headers.get("x-agent-id")],
                                  default="agent")
    if problem is not None:
        return problem
    notify = bool(data.get("notify", True))
    conversation, problem = await _resolve(request)
    if problem is not None:
        return problem
    outlet = _outlet(request, conversation.channel)
    app_state = request.app.state.app_state

    def work() -> tuple[list[Any], list[dict[str, Any]] | None]:
        if outlet is not None and notify:
            outlet.check_window(conversation.address)
        replies = app_state.hand_back(
            conversation.sender_id, agent, channel=conversation.channel or "rest", notify=notify
        )
        delivery = outlet.deliver(conversation.address, replies) if outlet is not None and notify else None
        return replies, delivery

    done = await _deliver(work)
    if isinstance(done, JSONResponse):
        return done
    replies, delivery = done
    body: dict[str, Any] = {
        "conversation": conversation.id,
        "channel": conversation.channel,
        "replies": [{"text": r.text, **({"buttons": list(r.buttons)} if r.buttons else {})} for r in replies],
    }
    if delivery is not None:
        body["delivery"] = delivery
    return JSONResponse(body)


async def _agent_json(request: Request, shape: str) -> tuple[dict[str, Any], str | None, JSONResponse | None]:
    """An agent's JSON request: ``(body, acting agent, None)``, or the 401/403/400 answer to send."""
    from bot import edge
    from bot.inbox.auth import acting_agent

    identity, problem = await _agent_authorised(request)
    if problem is not None:
        return {}, None, problem
    try:
        data = await edge.read_json(request)
    except edge.EdgeError as e:
        return {}, None, e.response()
    if not isinstance(data, dict):
        return {}, None, _error(400, f"expected a JSON object {shape}")
    agent, problem = acting_agent(identity, [data.get("agent")])
    return data, agent, problem


async def agent_message(request: Request) -> JSONResponse:
    """A person in the shared inbox writes to a patient whose conversation is in handoff.

    ``{"agent"?: id, "text": str}`` (``agent``: the token's; required with the shared token). The text
    passes the disclosure gate like any bot message; when it is blocked the patient gets the portal
    redirect instead and the answer says so, with the categories. WhatsApp conversations: delivered
    through the outbox to the address the patient last wrote from, inside the 24-hour window only (409
    ``template_required`` outside it, nothing recorded: ``POST .../templates`` then). The text is never
    logged.
    """
    data, agent, problem = await _agent_json(request, '{"agent"?: str, "text": str}')
    if problem is not None:
        return problem
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        return _error(400, "`text` must be a non-empty string")
    if len(text) > MAX_AGENT_TEXT:
        return _error(413, f"`text` longer than {MAX_AGENT_TEXT} characters")
    conversation, problem = await _resolve(request)
    if problem is not None:
        return problem
    outlet = _outlet(request, conversation.channel)
    app_state = request.app.state.app_state

    def work() -> tuple[Any, list[dict[str, Any]] | None]:
        if outlet is not None:
            outlet.check_window(conversation.address)  # before anything is recorded
        reply = app_state.agent_say(conversation.sender_id, agent, text)
        delivery = outlet.deliver(conversation.address, [reply.message]) if outlet is not None else None
        return reply, delivery

    done = await _deliver(work)
    if isinstance(done, JSONResponse):
        return done
    reply, delivery = done
    body: dict[str, Any] = {
        "conversation": conversation.id,
        "channel": conversation.channel,
        "text": reply.message.text,
        "blocked": reply.blocked,
    }
    if reply.blocked:
        from bot.guard.gate import explain

        body["categories"] = list(reply.categories)
        body["reasons"] = explain(reply.categories)
        body["note"] = "the message was not sent: the patient received the portal redirect instead"
    if delivery is not None:
        body["delivery"] = delivery[0] if delivery else None
    return JSONResponse(body)


async def agent_template(request: Request) -> JSONResponse:
    """An agent sends an approved WhatsApp content template (``{"response", "variables"?}``), e.g. outside
    the 24-hour window where free text is refused: see :mod:`bot.inbox.templates` for the rules."""
    from bot.inbox import templates as agent_templates

    data, agent, problem = await _agent_json(request, '{"response": str, "variables"?: {str: str}}')
    if problem is not None:
        return problem
    response = data.get("response")
    if not isinstance(response, str) or not 0 < len(response) <= 64:
        return _error(400, "`response` must name a response (see domain.yml) that has a content template")
    try:
        variables = agent_templates.check_variables(data.get("variables"))
    except agent_templates.TemplateProblem as e:
        return _error(e.status, str(e), **e.extra)
    conversation, problem = await _resolve(request)
    if problem is not None:
        return problem
    outlet = _outlet(request, conversation.channel)
    if outlet is None:
        return _error(409, "templates are for WhatsApp conversations; this one is on "
                      f"{conversation.channel}: use POST .../messages")
    app_state = request.app.state.app_state
    try:
        sent = await _deliver(lambda: agent_templates.send(app_state, outlet, conversation, str(agent),
                                                           response, variables))
    except agent_templates.TemplateProblem as e:
        return _error(e.status, str(e), **e.extra)
    if isinstance(sent, JSONResponse):
        return sent
    return JSONResponse({"conversation": conversation.id, "channel": conversation.channel,
                         "response": sent.response, "text": sent.text, "delivery": sent.delivery})


DELIVERIES_UNAVAILABLE = "delivery states cannot be read right now; try again in a moment"
NO_SUCH_CONVERSATION = "no such WhatsApp conversation (use the id from GET /agent/conversations)"


async def deliveries(request: Request) -> JSONResponse:
    """Delivery states of a conversation's outbound messages, for agents (no bodies, no numbers).

    Addressed by the inbox's opaque id only — a phone number in the URL is answered like any unknown id
    (404), so the route tells nobody whether a number is a patient's. Audited as ``deliveries.viewed``
    with the agent's id, like the transcript (the shared token's agent: ``X-Agent-Id``)."""
    from bot.inbox.auth import acting_agent

    identity, problem = await _agent_authorised(request)
    if problem is not None or identity is None:
        return problem or _error(401, "unauthorised")
    agent, problem = acting_agent(identity, [request.headers.get("x-agent-id")], default="agent")
    if problem is not None:
        return problem
    app_state = getattr(request.app.state, "app_state", None)
    conversation = None
    try:
        if app_state is not None and getattr(app_state, "directory", None) is not None:
            with contextlib.suppress(LookupError):
                wanted = request.path_params["conversation_id"]
                conversation = await run_in_threadpool(app_state.conversation, wanted)
    except Exception as e:  # the inbox's database is down
        log.error("inbox.deliveries.unavailable", extra={"error": type(e).__name__})
        return _error(503, DELIVERIES_UNAVAILABLE)
    if conversation is None or not conversation.sender_id:
        return _error(404, NO_SUCH_CONVERSATION)
    try:
        outlet = _outlet(request, conversation.channel)
    except Exception as e:  # the channel cannot be built (its database is down)
        log.error("inbox.deliveries.unavailable", extra={"error": type(e).__name__})
        return _error(503, DELIVERIES_UNAVAILABLE)
    if outlet is None or app_state is None:
        return _error(404, NO_SUCH_CONVERSATION)
    try:
        rows = await run_in_threadpool(outlet.deliveries, conversation.sender_id)
        await run_in_threadpool(app_state.services.audit.append, f"staff:{agent}", "deliveries.viewed",
                                f"patient:{conversation.id}", {"items": len(rows)})
    except Exception as e:
        log.error("inbox.deliveries.unavailable", extra={"error": type(e).__name__})
        return _error(503, DELIVERIES_UNAVAILABLE)
    return JSONResponse({"conversation": conversation.id, "deliveries": rows},
                        headers={"cache-control": "no-store"})


def routes() -> list[Route]:
    base = "/agent/conversations"
    return [
        Route(base, list_conversations, methods=["GET"]),
        Route(base + "/{conversation_id}", get_conversation, methods=["GET"]),
        Route(base + "/{conversation_id}/deliveries", deliveries, methods=["GET"]),
        Route(base + "/{conversation_id}/handback", hand_back, methods=["POST"]),
        Route(base + "/{conversation_id}/messages", agent_message, methods=["POST"]),
        Route(base + "/{conversation_id}/templates", agent_template, methods=["POST"]),
    ]
