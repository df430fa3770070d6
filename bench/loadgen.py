"""A lean HTTP/1.1 load generator and fake Twilio REST API on asyncio Protocols, for benchmarks.

The load generator shares the benchmark machine's CPUs with the server it measures, so every
microsecond it spends per message is taken from the server: aiohttp's client and server (request and
response objects, multidicts, cookie jars, routing, middlewares, stream readers) cost about 1 ms of CPU
per message. Here each message costs a few syscalls and a few dozen bytecode lines instead:

* :class:`Pool` — keep-alive client connections to one host, opened on demand up to a limit (callers
  wait for a free one beyond it, as aiohttp's connector does); or :meth:`Pool.spread` over many
  connections opened at once and used in turn, as traffic from many senders arrives. A request is
  pre-built bytes (:func:`request_bytes`); of the response only the status line, ``Content-Length`` and
  ``Connection: close`` are read, the body is skipped.
* :class:`FakeTwilio` — ``POST /2010-04-01/Accounts/{account}/Messages.json``: of the form only ``To``,
  ``From``, ``Body`` and ``MessagingServiceSid`` are decoded (and remembered: the workers send the same
  texts and numbers again and again), the arrival of a reply for its ``To`` recorded (waking whoever waits
  for it), and 201 answered with the JSON message resource ``tests.fakes.twilio_server.FakeTwilio.message``
  builds (a template per account with the sid, body and numbers substituted; sids are unique ``SM`` + 32
  hex). Keep-alive, requests split over reads or several per read; anything else is answered 404.

Under load on a 2-CPU machine this is ~0.2–0.3 ms of CPU per message (client + fake, uvloop), most of it
the kernel's and the loop's cost of each wakeup; aiohttp's was ~0.9–1.2 ms.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import defaultdict
from typing import cast
from urllib.parse import unquote_plus, urlencode

MESSAGES_PREFIX = b"/2010-04-01/Accounts/"
MESSAGES_SUFFIX = b"/Messages.json"
FIELDS = {b"Body": "body", b"To": "to", b"From": "from", b"MessagingServiceSid": "mss"}  # → template slots
_ERROR = json.dumps({"code": 20404, "message": "not found", "status": 404}).encode()
NOT_FOUND = (b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
             % len(_ERROR)) + _ERROR


def request_bytes(host: str, path: str, params: dict[str, str], headers: dict[str, str]) -> bytes:
    """A complete form POST (request line, headers, body), ready to be written as is."""
    body = urlencode(params).encode()
    lines = [f"POST {path} HTTP/1.1", f"host: {host}", "content-type: application/x-www-form-urlencoded",
             *(f"{k}: {v}" for k, v in headers.items()), f"content-length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


def _head(buf: bytes, end: int) -> tuple[bytes, int, bool]:
    """The lower-cased header block ``buf[:end]``, its ``Content-Length`` (0 if absent) and whether it
    says ``Connection: close``."""
    head = buf[:end].lower() + b"\r\n"
    at = head.find(b"\r\ncontent-length:")
    length = int(head[at + 17:head.find(b"\r\n", at + 17)]) if at >= 0 else 0
    return head, length, b"\r\nconnection: close\r\n" in head


class _Connection(asyncio.Protocol):
    """One keep-alive client connection; ``waiter`` gets the status of the response to the request in
    flight (one at a time: no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.waiter: asyncio.Future[int] | None = None
        self.usable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self.buf = buf
            return
        head, length, close = _head(buf, end)
        if len(buf) < end + 4 + length:
            self.buf = buf
            return
        self.buf = b""
        if close or len(buf) > end + 4 + length or b"\r\ntransfer-encoding:" in head:
            self.usable = False  # closing, or answered more than asked (chunked is not sent by uvicorn)
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(int(head[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("connection closed by the server"))

    def expire(self) -> None:
        self._fail(TimeoutError("no response"))

    def _fail(self, exc: Exception) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Pool:
    """Keep-alive connections to ``host:port``: at most ``limit``, opened when none is idle (the most
    recently used is reused first); beyond the limit a request waits for one, as with aiohttp's
    connector. Requests that get no response within ``timeout`` seconds raise :class:`TimeoutError`.

    Reusing the most recent connection keeps a handful of connections hot. A server whose worker
    processes share one listening socket (``bot run --workers N``) then gives most requests to whichever
    worker accepted those few — one run measured 1,967 messages in one worker and 65 in the other.
    :meth:`spread` models many senders instead."""

    def __init__(self, host: str, port: int, limit: int, timeout: float = 60) -> None:
        self.host, self.port, self.limit, self.timeout = host, port, limit, timeout
        self.idle: list[_Connection] = []
        self.open = 0
        self.queue: list[asyncio.Future[_Connection]] = []
        self.rotate = False  # True: the least recently used idle connection goes first

    async def spread(self, n: int) -> None:
        """Open ``n`` connections now and use them in turn (least recently used first), as requests from
        many senders (Twilio's many hosts) arrive on many connections; the server's kernel hands each
        new connection to one of its workers."""
        loop = asyncio.get_running_loop()
        for _ in range(min(n, self.limit - self.open)):
            self.open += 1
            _, conn = await loop.create_connection(_Connection, self.host, self.port)
            self.idle.append(conn)
        self.rotate = True

    async def post(self, request: bytes) -> int:
        """Writes ``request`` on a free connection; the response's status once it was read entirely."""
        conn = self._idle() or await self._acquire()
        assert conn.transport is not None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[int] = loop.create_future()
        conn.waiter = waiter
        timer = loop.call_later(self.timeout, conn.expire)
        conn.transport.write(request)
        try:
            return await waiter
        except BaseException:
            conn.usable = False
            raise
        finally:
            timer.cancel()
            if conn.usable and not self.queue:
                self.idle.append(conn)
            else:
                self._release(conn)

    def _idle(self) -> _Connection | None:
        """The most (``rotate``: least) recently used idle connection still open (the server closes idle
        ones after its keep-alive timeout: those are dropped here)."""
        while self.idle:
            conn = self.idle.pop(0 if self.rotate else -1)
            if conn.usable and conn.transport is not None and not conn.transport.is_closing():
                return conn
            self.open -= 1
        return None

    async def _acquire(self) -> _Connection:
        idle = self._idle()
        if idle is not None:
            return idle
        loop = asyncio.get_running_loop()
        if self.open < self.limit:
            self.open += 1
            try:
                _, conn = await loop.create_connection(_Connection, self.host, self.port)
            except BaseException:
                self.open -= 1
                raise
            return conn
        waiting: asyncio.Future[_Connection] = loop.create_future()
        self.queue.append(waiting)
        return await waiting

    def _release(self, conn: _Connection) -> None:
        if not conn.usable:
            if conn.transport is not None:
                conn.transport.close()
            self.open -= 1
            if self.queue:  # a slot freed: the first waiter opens a new connection
                asyncio.get_running_loop().create_task(self._hand_new(self.queue.pop(0)))
            return
        while self.queue:
            waiting = self.queue.pop(0)
            if not waiting.done():
                waiting.set_result(conn)
                return
        self.idle.append(conn)

    async def _hand_new(self, waiting: asyncio.Future[_Connection]) -> None:
        try:
            conn = await self._acquire()
        except Exception as e:
            if not waiting.done():
                waiting.set_exception(e)
        else:
            if waiting.done():
                self._release(conn)
            else:
                waiting.set_result(conn)

    def close(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()


class _Sids:
    """Unique ``SM`` + 32 hex message sids: a random half per run, a counter for the other."""

    def __init__(self) -> None:
        self.prefix = "SM" + secrets.token_hex(8)
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"{self.prefix}{self.count:016x}"


def message_template(account: str) -> str:
    """``FakeTwilio.message(account, form)`` as JSON, with ``%(sid)s`` where the sid goes and ``%(body)s``,
    ``%(to)s``, ``%(from)s``, ``%(mss)s`` where the JSON values of those fields go."""
    from tests.fakes.twilio_server import FakeTwilio as Shape

    marks = {"Body": "@@body@@", "To": "@@to@@", "From": "@@from@@", "MessagingServiceSid": "@@mss@@"}
    shape = Shape.message(account, marks)
    text = json.dumps(shape).replace("%", "%%").replace(shape["sid"], "%(sid)s")
    for mark in marks.values():
        text = text.replace(json.dumps(mark), f"%({mark.strip('@')})s")
    return text


class FakeTwilio:
    """Twilio's Messages API on loopback; records when each recipient's replies arrive."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.waiters: dict[str, list[tuple[int, asyncio.Future[float]]]] = {}
        self.templates: dict[bytes, str | None] = {}  # by request target; None: not Messages.json
        self.values: dict[bytes, tuple[str, str]] = {}  # urlencoded form value → (text, JSON)
        self.sid = _Sids()
        self.server: asyncio.AbstractServer | None = None

    def wait(self, to: str, n: int) -> asyncio.Future[float]:
        """When the ``n``-th reply to ``to`` arrived (``time.perf_counter()``)."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if len(self.arrivals[to]) >= n:
            future.set_result(self.arrivals[to][n - 1])
        else:
            self.waiters.setdefault(to, []).append((n, future))
        return future

    def _arrived(self, to: str, now: float) -> None:
        arrivals = self.arrivals[to]
        arrivals.append(now)
        pending = self.waiters.get(to)
        if pending:
            count = len(arrivals)
            for n, future in pending:
                if n <= count and not future.done():
                    future.set_result(now)
            self.waiters[to] = [w for w in pending if w[0] > count]

    def _template(self, target: bytes) -> str | None:
        if target not in self.templates:
            ours = target.startswith(MESSAGES_PREFIX) and target.endswith(MESSAGES_SUFFIX)
            account = target[len(MESSAGES_PREFIX):-len(MESSAGES_SUFFIX)].decode("latin-1")
            self.templates[target] = message_template(account) if ours and "/" not in account else None
        return self.templates[target]

    def _value(self, raw: bytes) -> tuple[str, str]:
        """A form value decoded as ``parse_qsl`` does, and as JSON; the workers send the same replies and
        numbers over and over, so both are remembered."""
        known = self.values.get(raw)
        if known is None:
            if len(self.values) > 100_000:
                self.values.clear()
            text = unquote_plus(raw.decode())
            known = self.values[raw] = (text, json.dumps(text))
        return known

    def handle(self, line: bytes, body: bytes) -> bytes:
        """The response to one complete request: its request line and (form) body."""
        now = time.perf_counter()
        method, _, rest = line.partition(b" ")
        template = self._template(rest.partition(b" ")[0]) if method == b"POST" else None
        if template is None:
            return NOT_FOUND
        form: dict[bytes, bytes] = {}
        for pair in body.split(b"&"):
            key, equals, value = pair.partition(b"=")
            if equals and key in FIELDS:
                form[key] = value
        to = form.get(b"To")
        slots = {"sid": self.sid(), "body": '""', "to": "null", "from": "null", "mss": "null"}
        for key, value in form.items():
            slots[FIELDS[key]] = self._value(value)[1]
        self._arrived(self._value(to)[0] if to is not None else "", now)
        data = (template % slots).encode()
        return (b"HTTP/1.1 201 Created\r\ncontent-type: application/json; charset=utf-8\r\n"
                b"content-length: %d\r\n\r\n" % len(data)) + data

    async def start(self, port: int) -> None:
        self.server = await asyncio.get_running_loop().create_server(
            lambda: _Server(self), "127.0.0.1", port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class _Server(asyncio.Protocol):
    """One connection to the fake: complete requests are answered in order (several in one read, or one
    over several reads)."""

    def __init__(self, fake: FakeTwilio) -> None:
        self.fake = fake
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.body_at = self.end = -1  # where the body of the request being read starts and ends
        self.close = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        while True:
            if self.end < 0:
                head_end = buf.find(b"\r\n\r\n")
                if head_end < 0:
                    break
                _, length, self.close = _head(buf, head_end)
                self.body_at, self.end = head_end + 4, head_end + 4 + length
            if len(buf) < self.end:
                break
            answer = self.fake.handle(buf[:buf.find(b"\r\n")], buf[self.body_at:self.end])
            assert self.transport is not None
            self.transport.write(answer)
            buf, self.end = buf[self.end:], -1
            if self.close:
                self.transport.close()
                break
        self.buf = buf
