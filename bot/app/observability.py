"""What an operator watches, without patient data: JSON logs, ``/ready``, ``/metrics`` (docs/deploy.md).

- Logs: with ``BOT_LOG_FORMAT=json`` (the default under ``BOT_ENV=production``) one JSON object per line:
  ``ts``, ``level``, ``logger``, ``event`` (the dotted name every log call starts with, e.g.
  ``dialogue.turn_failed``), ``message``, the call's ``extra`` fields; an exception adds its type and
  the stack's frames — never its message, which can quote a value (a database error's ``DETAIL``).
- ``/health`` says the process is alive; ``/ready`` that it can serve a patient now: the lifespan finished,
  the database answers, the schema is current, Redis answers. 503 with the failing check's name otherwise.
- ``/metrics``: Prometheus text, only with ``Authorization: Bearer $BOT_METRICS_TOKEN`` (no token set: not
  served). Counters from :mod:`bot.metrics`; gauges read from the database at scrape time.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import traceback
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import metrics, settings
from bot.core.processor import Processor, UserMessage
from bot.guard.detector import CATEGORIES
from bot.guard.gate import GATE_ERROR, OVERSIZE, PROVENANCE
from bot.guard.screen import SCREEN_CATEGORIES

log = logging.getLogger("bot.app.observability")
#: the disclosure gate's categories: the only values of bot_gate_blocks_total's label
BLOCK_CATEGORIES = frozenset((*CATEGORIES, *SCREEN_CATEGORIES, PROVENANCE, OVERSIZE, GATE_ERROR))
_EVENT = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
_STANDARD = set(vars(logging.LogRecord("x", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


# -- logs ----------------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        found = _EVENT.match(message)
        item: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": found.group(0) if found else f"{record.name}.log",
            "message": message,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in item:
                item[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_info and record.exc_info[0] is not None:
            item["exc_type"] = record.exc_info[0].__name__
            item["stack"] = [f"{f.filename}:{f.lineno} {f.name}"
                             for f in traceback.extract_tb(record.exc_info[2])]
        return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def log_config() -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for ``bot run`` (uvicorn applies it in every worker)."""
    json_format = settings.log_format() == "json"
    formatter = ({"()": "bot.app.observability.JsonFormatter"} if json_format
                 else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"})
    level = settings.log_level().upper()
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": level},
        "loggers": {name: {"handlers": [], "propagate": True, "level": level}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


# -- the turn: counted around the processor -----------------------------------------------------------


class InstrumentedProcessor(Processor):
    """The processor, with each turn counted and timed: messages in and replies out by channel (a turn
    replayed from storage counts in, not out again)."""

    def handle_turn(self, message: UserMessage, **options: Any) -> Any:
        started = time.perf_counter()
        outcome: Any = None
        try:
            outcome = super().handle_turn(message, **options)
            return outcome
        finally:
            metrics.turn(message.channel, time.perf_counter() - started, failed=outcome is None)
            metrics.message(message.channel, "in")
            if outcome is not None and not getattr(outcome, "replayed", False):
                metrics.message(message.channel, "out", len(outcome.outgoing))


class WebhookRejections:
    """Count the Twilio webhooks' 4xx/5xx answers (by webhook and status; never the request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/webhooks/twilio/"):
            await self.app(scope, receive, send)
            return
        webhook = path.rsplit("/", 1)[-1]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                metrics.webhook_rejected(webhook, message["status"])
            await send(message)

        await self.app(scope, receive, sending)


# -- /ready ------------------------------------------------------------------------------------------


def engine_of(app_state: Any) -> Any:
    """The running assistant's database engine (the process's default before it is built)."""
    from bot import db

    audit = getattr(getattr(app_state, "services", None), "audit", None)
    engine = getattr(audit, "engine", None)
    return engine if engine is not None else db.get_engine()


def readiness(state: Any) -> dict[str, str]:
    """Each check's result (``ok`` or a short reason without secrets)."""
    from sqlalchemy import text

    app_state = getattr(state, "app_state", None)
    checks: dict[str, str] = {"app": "ok" if app_state is not None else "starting"}
    try:
        engine = engine_of(app_state)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        from bot.app.deploy_check import migration_problems

        checks["database"] = "ok"
        checks["migrations"] = "ok" if not migration_problems(engine) else "behind"
    except Exception as e:  # a readiness probe reports; it does not raise
        checks["database"] = type(e).__name__
    redis_url = settings.redis_url()
    if redis_url:
        try:
            import redis

            client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            try:
                client.ping()
            finally:
                client.close()
            checks["redis"] = "ok"
        except Exception as e:  # reported, not raised
            checks["redis"] = type(e).__name__
    return checks


async def ready(request: Request) -> JSONResponse:
    checks = await run_in_threadpool(readiness, request.app.state)
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                        status_code=200 if ok else 503)


# -- /metrics -------------------------------------------------------------------------------------------


_GAUGES: Mapping[str, tuple[str, str]] = {
    "bot_handoffs_waiting": ("Conversations waiting for a person",
                             "SELECT count(*) FROM agent_conversation WHERE in_handoff"),
    "bot_outbox_unfinished": ("WhatsApp messages not yet accepted by Twilio (pending, sending, retry)",
                              "SELECT count(*) FROM twilio_outbound "
                              "WHERE state IN ('pending', 'sending', 'retry')"),
    "bot_outbox_retrying": ("WhatsApp messages waiting for a retry",
                            "SELECT count(*) FROM twilio_outbound WHERE state = 'retry'"),
    "bot_outbox_failed": ("WhatsApp messages that failed for good (kept until retention)",
                          "SELECT count(*) FROM twilio_outbound WHERE state = 'failed'"),
}
_LAGS: Mapping[str, str] = {
    "follow_up": "SELECT min(due_at) FROM followup_jobs WHERE done_at IS NULL AND due_at <= :now",
    "outbox_retry": "SELECT min(next_attempt_at) FROM twilio_outbound "
                    "WHERE state = 'retry' AND next_attempt_at <= :now",
}


class DatabaseGauges:
    """Gauges read from the database when Prometheus scrapes; a table that is missing or changed is
    skipped (its gauge absent), never an error of the scrape."""

    def __init__(self, app_state: Any = None) -> None:
        self.app_state = app_state

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import text

        try:
            engine = engine_of(self.app_state)
        except Exception:  # no database: no gauges
            return
        now = datetime.now(UTC)
        for name, (doc, sql) in _GAUGES.items():
            try:
                with engine.connect() as conn:
                    value = conn.execute(text(sql)).scalar() or 0
            except Exception:  # a table of another version: skip
                continue
            yield GaugeMetricFamily(name, doc, value=float(value))
        lag = GaugeMetricFamily("bot_job_lag_seconds", "Age of the oldest job that is due and not done",
                                labels=["job"])
        for job, sql in _LAGS.items():
            try:
                with engine.connect() as conn:
                    oldest = conn.execute(text(sql), {"now": now}).scalar()
            except Exception:  # a table of another version: skip
                continue
            if isinstance(oldest, datetime) and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            lag.add_metric([job], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield lag


def exposition(app_state: Any = None) -> tuple[bytes, str]:
    """The counters (every worker's, summed, under ``PROMETHEUS_MULTIPROC_DIR``) and the gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    metrics.ensure()
    counters: Any = REGISTRY
    if settings.metrics_dir():
        from prometheus_client import multiprocess

        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    gauges = CollectorRegistry()
    gauges.register(DatabaseGauges(app_state))
    return generate_latest(counters) + generate_latest(gauges), CONTENT_TYPE_LATEST


def metrics_endpoint(token: str) -> Any:
    expected = f"Bearer {token}".encode()

    async def endpoint(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"error": "missing or invalid Authorization bearer token"}, status_code=401,
                                headers={"www-authenticate": "Bearer"})
        app_state = getattr(request.app.state, "app_state", None)
        body, content_type = await run_in_threadpool(exposition, app_state)
        return PlainTextResponse(body, media_type=content_type)

    return endpoint


def prepare_metrics_dir(workers: int) -> None:
    """``PROMETHEUS_MULTIPROC_DIR`` when set: created and emptied of an earlier run's counters; unset with
    several workers and ``/metrics`` on: a fresh owner-only temporary one, so that every worker's counters
    add up."""
    import tempfile
    from pathlib import Path

    folder = settings.metrics_dir()
    if folder is None:
        if workers > 1 and settings.metrics_token():
            settings.export_metrics_dir(tempfile.mkdtemp(prefix="bot-metrics-"))
        return
    path = Path(folder)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for entry in path.glob("*.db"):  # counters of an earlier run
        entry.unlink()
