"""A local fake of Twilio's REST API (a real HTTP server on 127.0.0.1) so the real SDK is exercised.

``FakeTwilio().http_client()`` is a ``TwilioHttpClient`` that sends every ``https://api.twilio.com``
request to the fake instead. ``sign(...)`` signs webhook requests the way Twilio does.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator


@dataclass
class Recorded:
    path: str
    form: dict[str, str]
    account: str
    status: int = 0  # the HTTP status the fake answered
    sid: str = ""  # the MessageSid it gave out (201 only)


@dataclass
class FakeTwilio:
    requests: list[Recorded] = field(default_factory=list)
    fail_with: tuple[int, int] | None = None  # (http status, twilio error code) for every request
    fail_next: list[tuple[int, int]] = field(default_factory=list)  # consumed one per request, then success
    created: list[dict[str, Any]] = field(default_factory=list)  # every message answered 201, oldest first
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's pooled session expects
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # Messages.json?To=…: the messages created, newest first
                from urllib.parse import urlsplit

                url = urlsplit(self.path)
                query = dict(parse_qsl(url.query))
                with fake._lock:
                    found = [m for m in reversed(fake.created)
                             if not query.get("To") or m["to"] == query["To"]]
                size = int(query.get("PageSize") or 50)
                self._reply(200, {"messages": found[:size], "next_page_uri": None, "page": 0,
                                  "page_size": size, "uri": url.path, "first_page_uri": url.path,
                                  "previous_page_uri": None, "start": 0, "end": len(found[:size])})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                auth = self.headers.get("authorization", "").removeprefix("Basic ")
                account = base64.b64decode(auth).decode().split(":")[0] if auth else ""
                parts = self.path.strip("/").split("/")
                ok = len(parts) == 4 and parts[0] == "2010-04-01" and parts[3] == "Messages.json"
                record = Recorded(self.path, form, account)
                with fake._lock:
                    fake.requests.append(record)
                if not ok:
                    record.status = 404
                    return self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                with fake._lock:
                    failure = fake.fail_next.pop(0) if fake.fail_next else fake.fail_with
                if failure:
                    status, code = failure
                    record.status = status
                    return self._reply(status, {"code": code, "message": "failed", "status": status})
                created = fake.message(parts[2], form)
                with fake._lock:
                    fake.created.append(created)
                record.status, record.sid = 201, created["sid"]
                self._reply(201, created)

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @staticmethod
    def message(account: str, form: dict[str, str]) -> dict[str, Any]:
        from email.utils import formatdate

        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=False)  # RFC 2822, as Twilio writes dates
        return {
            "sid": sid, "account_sid": account, "api_version": "2010-04-01",
            "body": form.get("Body", ""), "to": form.get("To"), "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "status": "queued",
            "num_segments": "1", "num_media": "0", "direction": "outbound-api", "price": None,
            "price_unit": "USD", "error_code": None, "error_message": None,
            "date_created": now,
            "date_updated": now,
            "date_sent": None, "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
        }

    @property
    def messages(self) -> list[dict[str, str]]:
        """Every Messages.json request, including the ones answered with an error."""
        with self._lock:
            return [r.form for r in self.requests if r.path.endswith("/Messages.json")]

    @property
    def sids(self) -> list[str]:
        with self._lock:
            return [r.sid for r in self.requests if r.sid]

    @property
    def accepted(self) -> list[dict[str, str]]:
        """The messages the fake answered 201 (what Twilio would have queued)."""
        with self._lock:
            return [r.form for r in self.requests if r.path.endswith("/Messages.json") and r.status == 201]

    def http_client(self) -> TwilioHttpClient:
        from bot.channels.twilio.sender import redirecting_http_client

        return redirecting_http_client(self.base_url, timeout=5)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sign(token: str, url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def signed_post(client: Any, token: str, path: str, params: dict[str, str],
                base: str = "http://testserver") -> Any:
    """POST a form to ``path`` with a valid ``X-Twilio-Signature`` for ``base + path``."""
    return client.post(path, content=urlencode(params).encode(),
                       headers={"content-type": "application/x-www-form-urlencoded",
                                "x-twilio-signature": sign(token, base + path, params)})

