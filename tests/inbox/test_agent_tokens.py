"""Per-agent bearer tokens on every agent route: the agent id comes from the credential, not the body.

Each route with a live per-agent token, a revoked one, an unknown one, none; the shared BOT_AGENT_TOKEN
still works (the asserted id is taken as is); a per-agent token with someone else's id is a 403; tokens
appear neither in logs nor, in clear, in stored data.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from bot.errors import BotError
from bot.inbox.auth import AgentCredentials, acting_agent, agent_credential, token_hash
from tests.inbox.conftest import CANONICAL, SHARED, Inbox, bearer

LOGISTICS = "Buenas tardes, soy de recepción. Su cita quedó para el jueves a las 10:00."

# name -> (method, path under /agent/conversations with {cid}, JSON body without the agent id)
ROUTES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "list": ("GET", "?status=handoff", None),
    "transcript": ("GET", "/{cid}", None),
    "messages": ("POST", "/{cid}/messages", {"text": LOGISTICS}),
    "handback": ("POST", "/{cid}/handback", {"notify": False}),
    "deliveries": ("GET", "/{cid}/deliveries", None),
    "templates": ("POST", "/{cid}/templates", {"response": "utter_consent_reminder"}),
}
TAKES_AN_AGENT = ("transcript", "messages", "handback", "templates")


def call(inbox: Inbox, route: str, headers: dict[str, str], agent: str | None = None) -> Any:
    method, path, body = ROUTES[route]
    url = "/agent/conversations" + path.format(cid=inbox.cid)
    headers = dict(headers)
    if agent is not None and route == "transcript":
        headers["x-agent-id"] = agent
    elif agent is not None:
        body = {**(body or {}), "agent": agent}
    if method == "GET":
        return inbox.h.client.get(url, headers=headers)
    return inbox.h.client.post(url, json=body, headers=headers)


def effects(inbox: Inbox) -> tuple[int, int, int]:
    """What a refused call must not change: audit entries, conversation events, messages sent."""
    audit = len(list(inbox.state.services.audit.entries()))
    return audit, len(inbox.h.processor.tracker(CANONICAL).events), len(inbox.h.fake.messages)


@pytest.mark.parametrize("route", list(ROUTES))
def test_each_route_takes_the_agent_from_its_token(inbox: Inbox, route: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_AGENT_TOKEN")  # per-agent tokens only
    before = effects(inbox)
    for headers, why in (({}, "required"), (bearer("agt_not-a-token"), "unknown"),
                         (bearer(inbox.tokens["old.agent"]), "revoked"), (SHARED, "unknown"),
                         ({"authorization": inbox.tokens["ana.r"]}, "required")):  # no "Bearer "
        refused = call(inbox, route, headers)
        assert refused.status_code == 401, (route, why, refused.text)
        assert why in refused.json()["error"]
    assert effects(inbox) == before  # nothing read (audited), recorded or sent

    answer = call(inbox, route, bearer(inbox.tokens["ana.r"]))  # no agent id anywhere: the token's
    assert answer.status_code == 200, answer.text
    if route in TAKES_AN_AGENT:
        assert inbox.staff_actions()[-1][0] == "staff:ana.r"


@pytest.mark.parametrize("route", TAKES_AN_AGENT)
def test_someone_elses_id_with_a_per_agent_token_is_forbidden(inbox: Inbox, route: str) -> None:
    before = effects(inbox)
    forbidden = call(inbox, route, bearer(inbox.tokens["ana.r"]), agent="luis.m")
    assert forbidden.status_code == 403, forbidden.text
    assert "token" in forbidden.json()["error"]
    assert effects(inbox) == before
    same = call(inbox, route, bearer(inbox.tokens["ana.r"]), agent="ana.r")  # its own id: fine
    assert same.status_code == 200, same.text
    assert inbox.staff_actions()[-1][0] == "staff:ana.r"


@pytest.mark.parametrize("route", TAKES_AN_AGENT)
def test_the_shared_token_still_works_with_an_asserted_id(inbox: Inbox, route: str) -> None:
    answer = call(inbox, route, SHARED, agent="maria.g")
    assert answer.status_code == 200, answer.text
    assert inbox.staff_actions()[-1][0] == "staff:maria.g"  # asserted, as before (deprecated)


def test_the_shared_token_needs_the_asserted_id_where_it_did(inbox: Inbox) -> None:
    assert call(inbox, "transcript", SHARED).status_code == 400
    missing = call(inbox, "messages", SHARED)
    assert missing.status_code == 400 and "agent" in missing.json()["error"]
    assert call(inbox, "messages", SHARED, agent="no spaces").status_code == 400
    assert call(inbox, "list", SHARED).status_code == 200
    assert call(inbox, "deliveries", SHARED).status_code == 200
    assert call(inbox, "handback", SHARED).status_code == 200  # audited as staff:agent, as before
    assert inbox.staff_actions()[-1] == ("staff:agent", "handoff.ended")


def test_revocation_and_replacement_take_effect_at_once(inbox: Inbox) -> None:
    token = inbox.tokens["luis.m"]
    assert call(inbox, "list", bearer(token)).status_code == 200
    assert inbox.credentials.revoke("luis.m")
    assert call(inbox, "list", bearer(token)).status_code == 401
    assert not inbox.credentials.revoke("luis.m")  # nothing live to revoke
    again = inbox.credentials.add("luis.m")  # a revoked agent simply gets a new token
    assert call(inbox, "list", bearer(again)).status_code == 200
    assert call(inbox, "list", bearer(token)).status_code == 401
    with pytest.raises(BotError, match="--replace"):
        inbox.credentials.add("luis.m")
    newest = inbox.credentials.add("luis.m", replace=True)
    assert call(inbox, "list", bearer(again)).status_code == 401
    assert call(inbox, "list", bearer(newest)).status_code == 200
    assert inbox.credentials.active() == ["ana.r", "luis.m"]
    with pytest.raises(BotError, match="agent id"):
        inbox.credentials.add("no spaces")


def test_tokens_are_neither_logged_nor_stored_in_clear(inbox: Inbox,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ana = bearer(inbox.tokens["ana.r"])
    for route in ROUTES:
        if route != "handback":
            assert call(inbox, route, ana).status_code == 200, route
    assert call(inbox, "list", bearer(inbox.tokens["old.agent"])).status_code == 401
    assert call(inbox, "list", bearer("agt_guessed")).status_code == 401
    assert call(inbox, "transcript", SHARED, agent="maria.g").status_code == 200
    secrets = [*inbox.tokens.values(), "agt_guessed", SHARED["authorization"].split()[1]]
    for record in caplog.records:
        message = record.getMessage() + json.dumps({k: str(v) for k, v in record.__dict__.items()})
        for secret in secrets:
            assert secret not in message, record.name

    engine = inbox.state.directory.engine
    dump = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            dump += [list(map(str, row)) for row in conn.execute(text(f'SELECT * FROM "{table}"'))]
        stored = {r.agent: r.token_hash for r in conn.execute(select(agent_credential))}
    blob = json.dumps(dump)
    for secret in secrets:
        assert secret not in blob
    assert stored["ana.r"] == token_hash(inbox.tokens["ana.r"]) and len(stored["ana.r"]) == 64


def test_a_request_states_no_agent_with_a_per_agent_token_unless_it_is_its_own() -> None:
    from bot.inbox.auth import Identity

    assert acting_agent(Identity("ana.r"), [None, ""]) == ("ana.r", None)
    agent, problem = acting_agent(Identity("ana.r"), [None, "luis.m"])
    assert agent is None and problem is not None and problem.status_code == 403
    assert acting_agent(Identity(None), ["", "luis.m"]) == ("luis.m", None)
    assert acting_agent(Identity(None), [None], default="agent") == ("agent", None)
    _, problem = acting_agent(Identity(None), [None])
    assert problem is not None and problem.status_code == 400
    _, problem = acting_agent(Identity("ana.r"), [42])
    assert problem is not None and problem.status_code == 400


def test_the_credentials_table_survives_a_fresh_engine(inbox: Inbox) -> None:
    again = AgentCredentials(inbox.state.directory.engine)
    found = again.lookup(inbox.tokens["ana.r"])
    assert found is not None and (found.agent, found.revoked) == ("ana.r", False)
    revoked = again.lookup(inbox.tokens["old.agent"])
    assert revoked is not None and revoked.revoked
    assert again.lookup("agt_nothing") is None
