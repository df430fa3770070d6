"""``bot run --workers N`` on Linux: each worker its own SO_REUSEPORT socket (bot/app/worker.py)."""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator

import pytest

from bot.app.worker import ReusePortSockets, can_reuse_port, check_free, reuse_port_socket
from bot.errors import ConfigError

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT on this OS")


@pytest.fixture
def port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = int(s.getsockname()[1])
    yield free


def test_the_sockets_cross_to_a_worker_as_an_address_and_bind_there(port: int) -> None:
    sockets = ReusePortSockets("127.0.0.1", port)
    copy = pickle.loads(pickle.dumps(sockets))  # what a spawned worker receives
    assert isinstance(copy, ReusePortSockets) and len(copy) == 0  # nothing bound in the parent
    other = ReusePortSockets("127.0.0.1", port)
    try:
        mine, theirs = list(copy), list(other)  # each worker binds its own, on the same port
        assert [s.getsockname()[1] for s in mine + theirs] == [port, port]
        assert list(copy) == mine  # bound once, kept
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # the kernel hands the connection to one of them
    finally:
        for s in list(copy) + list(other):
            s.close()


def test_a_port_someone_listens_on_stops_start_up_with_a_clear_error(port: int) -> None:
    check_free("127.0.0.1", port)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*still running"):
            check_free("127.0.0.1", port)
    stale = reuse_port_socket("127.0.0.1", port)  # an earlier bot run, itself on SO_REUSEPORT
    try:
        with pytest.raises(ConfigError, match="cannot listen"):
            check_free("127.0.0.1", port)  # would otherwise share the port unnoticed
    finally:
        stale.close()


def test_own_sockets_by_default_on_linux_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.delenv("BOT_REUSE_PORT", raising=False)
    assert can_reuse_port() is sys.platform.startswith("linux")
    monkeypatch.setenv("BOT_REUSE_PORT", "0")
    assert can_reuse_port() is False  # uvicorn's one shared socket
    monkeypatch.setenv("BOT_REUSE_PORT", "yes")
    with pytest.raises(ConfigError, match="BOT_REUSE_PORT must be 1"):
        can_reuse_port()


def test_a_worker_that_cannot_bind_exits_with_the_start_up_failure_code(port: int) -> None:
    """uvicorn's supervisor stops on this code instead of restarting the worker forever."""
    from bot.app.worker import STARTUP_FAILURE

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        with pytest.raises(SystemExit) as stopped:
            list(ReusePortSockets("127.0.0.1", port))
    assert stopped.value.code == STARTUP_FAILURE == 3
