"""Worker processes of ``bot run``: what each sets up for itself (its garbage collector and its GIL switch
interval, called by the app's lifespan in :mod:`bot.app.server`), and how ``--workers N`` spreads connections
over them (:func:`serve_workers`)."""

from __future__ import annotations

import gc
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from bot import settings
from bot.errors import ConfigError

log = logging.getLogger("bot.app.worker")

STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that cannot start: its supervisor gives up


def settle_heap() -> None:
    """After start-up: move everything built so far (the model, domain, flow, libraries) out of the cyclic
    garbage collector's reach, so full collections do not rescan it and pause every request of the worker
    (figures: bench/twilio_webhook.py, docs/twilio.md)."""
    gc.collect()
    gc.freeze()


def tune_switch_interval() -> float:
    """How long a thread may hold the GIL while another waits: ``BOT_GIL_SWITCH_MS`` (default 1 ms, Python's
    is 5). A worker's event loop acknowledges webhooks while its dialogue threads run CPU-bound Python;
    with 5 ms each hand-over of the GIL to the loop could wait up to 5 ms, and an acknowledgement needs
    several (figures: bench/twilio_webhook.py, docs/twilio.md). Returns the interval set, in seconds."""
    ms = settings.gil_switch_ms()
    sys.setswitchinterval(ms / 1000)
    return ms / 1000


class ReusePortSockets(list[socket.socket]):
    """The listening sockets uvicorn's worker supervisor hands each worker process: instead of one
    socket bound by the parent and shared by every worker (a connection stays with whichever worker
    accepted it, and the first worker to wake accepts every connection waiting: CPU splits up to 100/0
    measured, see :func:`can_reuse_port`), each worker binds its own socket to the same address with
    ``SO_REUSEPORT`` (Linux), and the kernel spreads new connections evenly over them. Crosses to a
    spawned worker as its address only; the socket is made there, at its first use, and kept."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[type[ReusePortSockets], tuple[str, int]]:
        return (ReusePortSockets, (self.host, self.port))

    def __iter__(self) -> Any:
        if not len(self):
            try:
                self.append(reuse_port_socket(self.host, self.port))
            except OSError as e:  # uvicorn's start-up failure code: the supervisor stops, not restarts
                print(f"Error: cannot listen on {self.host}:{self.port}: {e.strerror or e}", file=sys.stderr)
                sys.exit(STARTUP_FAILURE)
        return super().__iter__()


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` with ``SO_REUSEPORT`` (and ``SO_REUSEADDR``)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def serve_workers(config: Any) -> None:
    """Run ``config.workers`` worker processes under uvicorn's supervisor (restarts, health checks,
    signals), each on its own ``SO_REUSEPORT`` socket (:class:`ReusePortSockets`).

    The address is tried here first with a plain socket (no ``SO_REUSEPORT``): a port another process
    listens on — even an older ``bot run`` left running, which ``SO_REUSEPORT`` would otherwise let share
    the traffic unnoticed — stops start-up with a clear error."""
    import inspect

    from uvicorn.supervisors import Multiprocess

    if not config.port:
        raise ConfigError("--port 0 with several workers on their own sockets: each would get another port")
    check_free(config.host, config.port)
    migrate = Path("/proc/sys/net/ipv4/tcp_migrate_req")
    if migrate.exists() and migrate.read_text().strip() == "0":
        log.warning("worker.sockets.no_migration: connections waiting for a worker that exits are reset; "
                    "set net.ipv4.tcp_migrate_req=1 (or BOT_REUSE_PORT=0 for one shared socket)")
    options: dict[str, Any] = {"sockets": ReusePortSockets(config.host, config.port)}
    if "target" in inspect.signature(Multiprocess.__init__).parameters:  # uvicorn before 0.30
        from uvicorn import Server

        options["target"] = Server(config=config).run
    Multiprocess(config, **options).run()


def check_free(host: str, port: int) -> None:
    """:class:`ConfigError` unless ``host:port`` can be bound by a socket that shares it with nobody."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are fine
            probe.bind(address)
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e} "
                          "(is another server, or an earlier bot run, still running?)") from e


def can_reuse_port() -> bool:
    """Each worker its own ``SO_REUSEPORT`` socket (Linux), unless ``BOT_REUSE_PORT=0`` (uvicorn's one
    shared socket).

    The trade-off: on the shared socket the first worker to wake accepts every connection waiting, so
    connections opened together can all land on one worker (figures: bench/twilio_webhook.py,
    docs/twilio.md); own sockets spread them evenly. The cost: connections still waiting in a worker's
    accept queue are reset when that worker exits (a crash, a restart, the supervisor killing a hung
    worker) unless the kernel migrates them
    (``net.ipv4.tcp_migrate_req=1``, Linux 5.14+; :func:`serve_workers` warns when it is off)."""
    return settings.reuse_port() and hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")
