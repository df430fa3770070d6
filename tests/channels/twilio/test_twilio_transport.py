"""The HTTP transport under the twilio SDK (bot/channels/twilio/transport.py): through the real SDK
against local servers only — success, Twilio's error answers, keep-alive reuse and peers that close it,
retryable network failures, the base-URL redirect, proxies from the environment, TLS verification."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.channels.twilio.ledger import TwilioLedger, patient_ref
from bot.channels.twilio.outbox import RETRY_DELAYS
from bot.channels.twilio.sender import DeliveryError, TwilioSender, redirecting_http_client
from bot.channels.twilio.transport import (
    ConnectionError,
    ReadTimeout,
    SSLError,
    TransportError,
    TwilioTransport,
)
from bot.core.identity import canonical_phone
from tests.channels.conftest import ACCOUNT, FROM_BOT, TOKEN, Clock
from tests.channels.twilio.processes import free_port
from tests.fakes.twilio_server import FakeTwilio

PATIENT = "whatsapp:+5215512345678"
MESSAGES = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
              "NO_PROXY", "REQUEST_METHOD", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass
class Seen:
    method: str
    target: str  # the request line's target: a path, or an absolute URL when sent to a proxy
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """A loopback HTTP server that records raw requests and answers ``reply`` (Twilio's 201 by default)."""

    seen: list[Seen] = field(default_factory=list)
    reply: tuple[int, dict[str, Any]] | None = None
    tls: ssl.SSLContext | None = None
    close_after_answer: bool = False  # drop every kept-alive connection once it was answered
    connections: int = 0

    def __post_init__(self) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                recorder.connections += 1
                super().setup()

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                recorder.seen.append(Seen(self.command, self.path, headers, body))
                status, payload = recorder.reply or (201, FakeTwilio.message(ACCOUNT, {"To": PATIENT}))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = recorder.close_after_answer  # no "Connection: close" sent

            do_GET = do_POST = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if self.tls is not None else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    server = FakeTwilio()
    yield server
    server.close()


@pytest.fixture
def transport(recorder: Recorder) -> Iterator[TwilioTransport]:
    http = TwilioTransport(timeout=5, base_url=recorder.base_url)
    yield http
    http.close()


def create(http: TwilioTransport, **extra: Any) -> Any:
    return Client(ACCOUNT, TOKEN, http_client=http).messages.create(
        to=PATIENT, from_=FROM_BOT, body="hola, ¿cómo está? 100% & más", **extra)


# -- through the SDK ---------------------------------------------------------------------------------------
def test_success_returns_the_sid_with_the_form_and_basic_auth(recorder: Recorder,
                                                               transport: TwilioTransport) -> None:
    message = create(transport, media_url=["https://example.org/a.png", "https://example.org/b.png"])
    assert message.sid.startswith("SM")
    [seen] = recorder.seen
    assert (seen.method, seen.target) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    credentials = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert seen.headers["authorization"] == f"Basic {credentials}"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.headers["user-agent"].startswith("twilio-python/")
    form = parse_qs(seen.body.decode(), strict_parsing=True)
    assert form["To"] == [PATIENT] and form["From"] == [FROM_BOT]
    assert form["Body"] == ["hola, ¿cómo está? 100% & más"]
    assert form["MediaUrl"] == ["https://example.org/a.png", "https://example.org/b.png"]  # repeated key
    assert transport._test_only_last_request is not None
    assert transport._test_only_last_request.url == recorder.base_url + seen.target
    assert transport._test_only_last_response is not None
    assert transport._test_only_last_response.status_code == 201


def test_query_params_repeat_list_values_and_drop_none(recorder: Recorder,
                                                       transport: TwilioTransport) -> None:
    recorder.reply = (200, {"messages": []})
    response = transport.request("GET", MESSAGES + "?PageSize=5",
                                 params={"To": PATIENT, "Tag": ["a", "b"], "Skip": None})
    assert response.status_code == 200 and json.loads(response.text) == {"messages": []}
    [seen] = recorder.seen
    query = parse_qs(urlsplit(seen.target).query)
    assert query == {"PageSize": ["5"], "To": [PATIENT], "Tag": ["a", "b"]}
    assert seen.body == b""


def test_json_content_type_sends_json(recorder: Recorder, transport: TwilioTransport) -> None:
    transport.request("POST", MESSAGES, data={"a": [1, 2], "b": "ñ"},
                      headers={"Content-Type": "application/json"})
    assert json.loads(recorder.seen[0].body) == {"a": [1, 2], "b": "ñ"}


@pytest.mark.parametrize(("status", "code"), [(400, 21211), (429, 20429), (503, 20503)])
def test_twilio_error_answers_raise_twilio_rest_exception(fake: FakeTwilio, status: int, code: int) -> None:
    fake.fail_with = (status, code)
    http = redirecting_http_client(fake.base_url, timeout=5)
    with pytest.raises(TwilioRestException) as raised:
        create(http)
    assert (raised.value.status, raised.value.code) == (status, code)
    http.close()


def test_api_twilio_com_and_us1_go_to_the_base_url(fake: FakeTwilio) -> None:
    http = TwilioTransport(timeout=5, base_url=fake.base_url + "/")
    Client(ACCOUNT, TOKEN, http_client=http).messages.create(to=PATIENT, from_=FROM_BOT, body="uno")
    Client(ACCOUNT, TOKEN, http_client=http, region="us1").messages.create(to=PATIENT, from_=FROM_BOT,
                                                                           body="dos")
    assert [m["Body"] for m in fake.accepted] == ["uno", "dos"]
    assert all(r.account == ACCOUNT for r in fake.requests)
    other = f"http://127.0.0.1:{free_port()}/2010-04-01/x"  # any other host is left alone
    with pytest.raises(ConnectionError):
        http.request("GET", other)
    assert http._test_only_last_request is not None and http._test_only_last_request.url == other
    http.close()


def test_nothing_of_bodies_or_numbers_is_logged(recorder: Recorder, transport: TwilioTransport,
                                                caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        create(transport)
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "5512345678" not in text and "hola" not in text and TOKEN not in text


# -- keep-alive ----------------------------------------------------------------------------------------------
def test_one_connection_is_kept_alive_per_thread(recorder: Recorder, transport: TwilioTransport) -> None:
    for _ in range(3):
        create(transport)
    assert recorder.connections == 1 and len(recorder.seen) == 3
    errors: list[BaseException] = []

    def burst() -> None:
        try:
            for _ in range(3):
                create(transport)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=burst) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors and len(recorder.seen) == 12 and recorder.connections == 4


def test_a_connection_the_peer_closed_is_replaced_before_sending(recorder: Recorder,
                                                                 transport: TwilioTransport) -> None:
    recorder.close_after_answer = True
    for _ in range(3):
        assert create(transport).sid.startswith("SM")
        time.sleep(0.05)  # the server's close reaches the idle connection
    assert recorder.connections == 3 and len(recorder.seen) == 3  # each POST sent once, none failed


# -- failures without an HTTP answer -----------------------------------------------------------------------
def test_connection_refused_raises_connection_error() -> None:
    http = TwilioTransport(timeout=5, base_url=f"http://127.0.0.1:{free_port()}", retries=1)
    with pytest.raises(ConnectionError) as raised:
        create(http)
    assert isinstance(raised.value, TransportError) and "Connection refused" in str(raised.value)
    assert "Messages.json" not in str(raised.value)  # host and port only


@pytest.fixture
def silent() -> Iterator[tuple[str, list[bytes]]]:
    """A server that accepts, reads and never answers; yields its URL and what each connection sent."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    received: list[bytes] = []
    conns: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            received.append(conn.recv(65536))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    stop.set()
    thread.join(2)
    listener.close()
    for conn in conns:
        conn.close()


def test_a_read_timeout_raises_and_the_post_is_not_sent_twice(silent: tuple[str, list[bytes]]) -> None:
    url, received = silent
    http = TwilioTransport(timeout=0.3, base_url=url, retries=2)
    with pytest.raises(ReadTimeout):
        create(http)
    assert len(received) == 1 and received[0].startswith(b"POST ")
    http.close()


# -- through TwilioSender: the outbox retries them ---------------------------------------------------------
def sender_for(engine: Any, base_url: str, clock: Clock, timeout: float = 5) -> TwilioSender:
    """A sender as deployed (its default client) with ``TWILIO_API_BASE_URL``; a shorter timeout if asked."""
    env = {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_WHATSAPP_FROM": FROM_BOT,
           "TWILIO_API_BASE_URL": base_url}
    sender = TwilioSender(TwilioLedger(engine), env=env, clock=clock)
    if timeout != 5:
        sender.http_client = TwilioTransport(timeout=timeout, base_url=base_url)
    return sender


def only_row(sender: TwilioSender) -> dict[str, Any]:
    [row] = sender.outbox.deliveries(patient_ref(canonical_phone(PATIENT)))
    return row


def test_the_default_client_is_the_transport_and_sends(engine: Any, fake: FakeTwilio) -> None:
    sender = sender_for(engine, fake.base_url, Clock())
    assert isinstance(sender.client().http_client, TwilioTransport)
    assert sender.send_text(PATIENT, "hola", window_open=True) == fake.sids
    assert fake.accepted[0]["Body"] == "hola"


def test_a_5xx_is_retried_by_the_outbox(engine: Any, fake: FakeTwilio) -> None:
    fake.fail_next = [(503, 20503)]
    clock = Clock()
    sender = sender_for(engine, fake.base_url, clock)
    assert sender.send_template(PATIENT, "HX" + "0" * 32, {"1": "mañana"}) == ""
    row = only_row(sender)
    assert (row["state"], row["attempts"], row["error_code"]) == ("retry", 1, "20503")
    clock.advance(seconds=RETRY_DELAYS[0].total_seconds())
    assert sender.retry_due() == 1
    assert only_row(sender)["state"] == "accepted" and len(fake.accepted) == 1


def test_a_4xx_is_a_permanent_delivery_error(engine: Any, fake: FakeTwilio) -> None:
    fake.fail_next = [(400, 21211)]
    sender = sender_for(engine, fake.base_url, Clock())
    with pytest.raises(DeliveryError):
        sender.send_template(PATIENT, "HX" + "0" * 32)
    assert (only_row(sender)["state"], only_row(sender)["error_code"]) == ("failed", "21211")


def test_connection_refused_and_timeout_are_retryable(engine: Any, fake: FakeTwilio,
                                                      silent: tuple[str, list[bytes]]) -> None:
    clock = Clock()
    refused = sender_for(engine, f"http://127.0.0.1:{free_port()}", clock)
    assert refused.send_template(PATIENT, "HX" + "0" * 32) == ""
    row = only_row(refused)
    assert (row["state"], row["attempts"], row["error_code"]) == ("retry", 1, "ConnectionError")
    slow = sender_for(engine, silent[0], clock, timeout=0.3)
    clock.advance(seconds=RETRY_DELAYS[0].total_seconds())
    assert slow.retry_due() == 0
    row = only_row(slow)
    assert (row["state"], row["attempts"], row["error_code"]) == ("retry", 2, "ReadTimeout")
    assert len(silent[1]) == 1  # the timed-out POST was not repeated by the transport
    back = sender_for(engine, fake.base_url, clock)  # Twilio is back
    clock.advance(seconds=RETRY_DELAYS[1].total_seconds())
    assert back.retry_due() == 1 and only_row(back)["state"] == "accepted"
    assert len(fake.accepted) == 1


# -- proxies and TLS ---------------------------------------------------------------------------------------
def test_https_proxy_from_the_environment_unless_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://user:p%40ss@proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "localhost,.corp.example")
    http = TwilioTransport()
    manager = http.manager(MESSAGES)
    assert isinstance(manager, urllib3.ProxyManager)
    assert (manager.proxy.host, manager.proxy.port) == ("proxy.internal", 3128)  # type: ignore[union-attr]
    assert manager.proxy_headers["proxy-authorization"] == "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert http.manager("https://messaging.twilio.com/v1/x") is manager  # one proxy manager per proxy
    assert http.manager("https://api.corp.example/2010-04-01/x") is None  # no_proxy: direct
    assert http.manager("http://api.twilio.com/x") is None  # no http_proxy
    monkeypatch.delenv("https_proxy")
    assert TwilioTransport().manager(MESSAGES) is not manager


def test_no_proxy_in_the_environment_means_direct() -> None:
    http = TwilioTransport()
    assert http.manager(MESSAGES) is None


def test_an_http_proxy_really_receives_the_request(monkeypatch: pytest.MonkeyPatch,
                                                   recorder: Recorder) -> None:
    monkeypatch.setenv("http_proxy", recorder.base_url)  # the recorder plays the proxy
    http = TwilioTransport(timeout=5, base_url="http://twilio.invalid")
    assert create(http).sid.startswith("SM")
    assert recorder.seen[0].target == f"http://twilio.invalid/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    http.close()


@pytest.fixture
def self_signed(tmp_path: Path) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = tmp_path / "cert.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return tmp_path


def test_tls_is_verified(self_signed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(self_signed / "cert.pem", self_signed / "key.pem")
    server = Recorder(tls=context)
    try:
        untrusted = TwilioTransport(timeout=5, base_url=server.base_url, retries=0)
        with pytest.raises(SSLError):
            create(untrusted)
        untrusted.close()
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(self_signed / "cert.pem"))  # as requests honoured it
        trusted = TwilioTransport(timeout=5, base_url=server.base_url)
        assert create(trusted).sid.startswith("SM")
        trusted.close()
    finally:
        server.close()
