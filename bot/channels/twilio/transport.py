"""The HTTP transport under the twilio SDK: a ``twilio.http.HttpClient`` on keep-alive ``http.client``
connections (one per thread and origin), with ``urllib3`` only for origins reached through a proxy.

Why: the SDK's default ``TwilioHttpClient`` goes through ``requests``, whose per-call machinery costs more
than the call itself; our Twilio calls are form POSTs with basic auth to a few hosts, so this client does
only that (figures: ``bench/twilio_send.py``, docs/twilio.md). Kept from the requests path:

- keep-alive connections, checked for a peer that closed them before reuse; a timeout (connect and read
  each, 10 s by default);
- TLS verified against the CA bundle requests would use (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, else
  certifi, else the system store), loaded once, hostname checked;
- proxies from the environment (``https_proxy``, ``http_proxy``, ``all_proxy``, ``no_proxy``, read once and
  decided once per scheme and host), ``Proxy-Authorization`` from the proxy URL's credentials, SOCKS with
  PySocks — through ``urllib3``'s proxy managers;
- requests' form encoding (list values become repeated keys, ``None`` is dropped), JSON bodies for JSON
  content types, ``params`` in the query string; the SDK's ``_test_only_last_request/_response``;
- connection attempts are retried (``retries``), never a request that may have reached Twilio (a POST is
  not idempotent: a read error or timeout is raised, not repeated).

A failure without an HTTP answer raises a :class:`TransportError` subclass named like requests' exception
(``ConnectionError``, ``ConnectTimeout``, ``ReadTimeout``, ``SSLError``, ``ProxyError``): the outbox records
the same error codes as before. HTTP errors are returned; the SDK raises ``TwilioRestException`` for them.
Nothing of bodies, query strings, numbers or credentials is logged here. ``base_url`` sends requests for
``https://api.twilio.com`` (and ``api.us1``) elsewhere: the local fakes of tests and benchmarks, staging.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import select
import socket
import ssl
import threading
import urllib.request
import weakref
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import urllib3
from twilio.http import HttpClient
from twilio.http.request import Request as TwilioRequest
from twilio.http.response import Response
from urllib3 import exceptions as u3
from urllib3.util import parse_url
from urllib3.util.ssl_ import create_urllib3_context

from bot import settings

log = logging.getLogger("bot.channels.twilio.transport")

TWILIO_HOSTS = ("https://api.twilio.com", "https://api.us1.twilio.com")
_JSON_TYPES = ("application/json", "application/scim+json")


class TransportError(OSError):
    """No HTTP answer from Twilio (network, TLS, proxy, timeout): worth retrying later."""


class ConnectionError(TransportError):  # shadows the builtin on purpose: the name requests gives it
    """Connection refused or reset, name resolution failed, the peer closed mid-request."""


class ConnectTimeout(TransportError):
    """No connection within the timeout (nothing was sent)."""


class ReadTimeout(TransportError):
    """No answer within the timeout (the request may have reached Twilio)."""


class SSLError(TransportError):
    """TLS handshake or certificate verification failed."""


class ProxyError(TransportError):
    """The proxy refused or could not be reached."""


def _encode(data: Any) -> str:
    """``requests``' form encoding: iterables (not strings) become repeated keys, ``None`` is dropped."""
    if isinstance(data, str | bytes):
        return data.decode() if isinstance(data, bytes) else data
    pairs: list[tuple[Any, Any]] = []
    for key, value in (data.items() if hasattr(data, "items") else data):
        if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
            value = (value,)
        pairs.extend((key, v) for v in value if v is not None)
    return urlencode(pairs)


def _translate(error: Exception) -> TransportError:
    reason = error.reason if isinstance(error, u3.MaxRetryError) and error.reason else error
    if isinstance(reason, u3.MaxRetryError):  # retries exhausted without a cause: its text has the URL
        return ConnectionError("too many retries or redirects")
    kind: type[TransportError] = ConnectionError
    if isinstance(reason, u3.ProxyError):
        kind = ProxyError
    elif isinstance(reason, u3.SSLError):
        kind = SSLError
    elif isinstance(reason, u3.NewConnectionError):  # a subclass of ConnectTimeoutError: test it first
        kind = ConnectionError
    elif isinstance(reason, u3.ConnectTimeoutError):
        kind = ConnectTimeout
    elif isinstance(reason, u3.TimeoutError):
        kind = ReadTimeout
    return kind(str(reason))  # host and port, never the path or query (MaxRetryError's text has those)


def _tls_context() -> Any:
    context = create_urllib3_context()  # CERT_REQUIRED, hostname checked
    bundle = settings.ca_bundle()
    if not bundle:
        try:
            import certifi

            bundle = certifi.where()
        except ImportError:
            context.load_default_certs()
            return context
    if os.path.isdir(bundle):
        context.load_verify_locations(capath=bundle)
    else:
        context.load_verify_locations(cafile=bundle)
    return context


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle keep-alive connection was closed by the peer (readable means EOF or junk)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class _Direct:
    """Keep-alive ``http.client`` connections for origins reached without a proxy: one per thread and
    origin, so no lock is taken per request."""

    def __init__(self, tls: ssl.SSLContext, retries: int) -> None:
        self.tls = tls
        self.retries = retries
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _close_all, self._all, self._lock)  # as urllib3's pools: no leaked sockets

    def _connection(self, origin: str, timeout: float) -> http.client.HTTPConnection:
        conns: dict[str, http.client.HTTPConnection] | None = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(origin)
        if conn is not None and conn.sock is not None and not _dropped(conn):
            return conn
        if conn is not None:  # closed by the peer or after an error: replaced
            conn.close()
            del conns[origin]
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
        parts = urlsplit(origin)
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout,
                                               context=self.tls)
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        for attempt in range(self.retries + 1):  # connection attempts only: nothing was sent yet
            try:
                conn.connect()
                break
            except Exception as e:
                conn.close()
                if attempt == self.retries:
                    raise _connect_error(e, parts.netloc) from e
        conns[origin] = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def send(self, method: str, origin: str, target: str, body: bytes | None, headers: dict[str, str],
             timeout: float) -> Response:
        conn = self._connection(origin, timeout)
        assert conn.sock is not None
        conn.sock.settimeout(timeout)
        try:
            conn.request(method, target, body=body, headers=headers)
            answer = conn.getresponse()
            text = answer.read().decode("utf-8", "replace")
        except Exception as e:
            conn.close()  # the request may have reached Twilio: raised, never repeated here
            kind = ReadTimeout if isinstance(e, TimeoutError) else ConnectionError
            raise kind(f"{type(e).__name__} talking to {urlsplit(origin).netloc}") from e
        if answer.will_close:
            conn.close()
        return Response(answer.status, text, answer.msg)

    def close(self) -> None:
        _close_all(self._all, self._lock)


def _close_all(conns: list[http.client.HTTPConnection], lock: threading.Lock) -> None:
    with lock:
        taken = conns[:]
        conns.clear()
    for conn in taken:
        conn.close()


def _connect_error(error: Exception, netloc: str) -> TransportError:
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return SSLError(f"{netloc}: {error}")
    if isinstance(error, TimeoutError):
        return ConnectTimeout(f"{netloc}: connect timed out")
    if isinstance(error, socket.gaierror):
        return ConnectionError(f"{netloc}: name resolution failed: {error}")
    return ConnectionError(f"{netloc}: {error}")


class TwilioTransport(HttpClient):
    """``twilio.rest.Client(sid, token, http_client=TwilioTransport())``; share one per process."""

    def __init__(self, timeout: float = 10, *, base_url: str | None = None, retries: int = 2,
                 pool_size: int = 10, logger: logging.Logger = log) -> None:
        super().__init__(logger, False, timeout)
        self.base_url = base_url.rstrip("/") if base_url else None
        # connection attempts only (and redirects, which the SDK never asks to follow); statuses are the
        # outbox's business, not a blocking sleep on Retry-After here
        self.retries = urllib3.Retry(total=retries, read=False, raise_on_redirect=False,
                                     respect_retry_after_header=False)
        self.tls = _tls_context()
        self._pool_kw: dict[str, Any] = {"maxsize": pool_size, "block": False, "ssl_context": self.tls}
        self.direct = _Direct(self.tls, retries)
        self.proxies = urllib.request.getproxies()  # read once: no environment scan per request
        self._by_origin: dict[str, urllib3.PoolManager | None] = {}
        self._proxy_managers: dict[str, urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def manager(self, url: str) -> urllib3.PoolManager | None:
        """The proxy's pool manager for ``url`` when the environment sets a proxy for its scheme and host;
        ``None`` when ``url`` is reached directly."""
        return self._route(_origin(url))

    def _route(self, origin: str) -> urllib3.PoolManager | None:
        if origin in self._by_origin:
            return self._by_origin[origin]
        parts = urlsplit(origin)
        proxy = self.proxies.get(parts.scheme) or self.proxies.get("all")
        chosen = None
        if proxy and not urllib.request.proxy_bypass(parts.netloc):  # no_proxy (host or host:port)
            with self._lock:
                if proxy not in self._proxy_managers:
                    self._proxy_managers[proxy] = self._proxy_manager(proxy)
                chosen = self._proxy_managers[proxy]
        self._by_origin[origin] = chosen
        return chosen

    def _proxy_manager(self, proxy: str) -> urllib3.PoolManager:
        url = proxy if "://" in proxy else f"http://{proxy}"
        auth = parse_url(url).auth
        headers = urllib3.make_headers(proxy_basic_auth=unquote(auth)) if auth else None
        if url.startswith("socks"):
            try:
                from urllib3.contrib.socks import SOCKSProxyManager
            except ImportError as e:  # PySocks missing
                raise ProxyError(f"a SOCKS proxy needs PySocks: {e}") from e
            return SOCKSProxyManager(url, **self._pool_kw)
        return urllib3.ProxyManager(url, proxy_headers=headers, proxy_ssl_context=self.tls, **self._pool_kw)

    def request(self, method: str, url: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        if timeout is None:
            timeout = self.timeout
        elif timeout <= 0:
            raise ValueError(timeout)
        method = method.upper()
        if self.base_url is not None:
            for host in TWILIO_HOSTS:
                if url.startswith(host) and url[len(host):len(host) + 1] in ("", "/", "?"):
                    url = self.base_url + url[len(host):]
                    break
        self._test_only_last_response = None
        self._test_only_last_request = TwilioRequest(method=method, url=url, auth=auth, params=params,
                                                     data=data, headers=headers)
        send = dict(headers) if headers else {}
        body: str | None = None
        if data is not None and send.get("Content-Type") in _JSON_TYPES:
            body = json.dumps(data, allow_nan=False)
        elif data:
            body = _encode(data)
            send.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if auth:
            send["Authorization"] = "Basic " + base64.b64encode(
                f"{auth[0]}:{auth[1]}".encode("latin1")).decode("ascii")
        target = f"{url}{'&' if '?' in url else '?'}{_encode(params)}" if params else url
        payload = body.encode() if body is not None else None
        origin = _origin(url)
        manager = self._route(origin)
        if manager is None:
            path = target[len(origin):] or "/"
            answer = self.direct.send(method, origin, path, payload, send, float(timeout))
        else:
            try:
                proxied = manager.urlopen(method, target, body=payload, headers=send, timeout=timeout,
                                          retries=self.retries, redirect=allow_redirects)
            except u3.HTTPError as e:
                raise _translate(e) from e
            answer = Response(proxied.status, proxied.data.decode("utf-8", "replace"), proxied.headers)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("twilio.http", extra={"method": method, "status": answer.status_code})
        self._test_only_last_response = answer
        return answer

    def close(self) -> None:
        """Close the kept-alive connections (the client stays usable: it reconnects on demand)."""
        self.direct.close()
        with self._lock:
            for manager in self._proxy_managers.values():
                manager.clear()


def _origin(url: str) -> str:
    end = url.find("/", url.find("//") + 2)
    return url if end < 0 else url[:end]


__all__ = ["TWILIO_HOSTS", "ConnectTimeout", "ConnectionError", "ProxyError", "ReadTimeout", "SSLError",
           "TransportError", "TwilioTransport"]
