"""Parse latency: training and load time, in-process parse, and POST /model/parse over HTTP.

    .venv/bin/python bench/parse_latency.py [--requests 2000] [--nlu nlu] [--config config.yml]

Trains a fresh model into a temporary directory (the project's models/ is untouched), loads it,
times the pure in-process parse, then serves a Starlette app with just the parse route under uvicorn
in a subprocess on a loopback port and sends sequential requests with one ``httpx.Client``. The HTTP
part runs twice: the parse called directly on the event loop (what bot.nlu.http does) and through
``run_in_threadpool``, to show why the direct call was chosen. With ``--plain-uvicorn`` a third run
serves with ``loop="asyncio", http="h11"``, what uvicorn uses without its ``[standard]`` extras
(uvloop, httptools), to weigh those ~20 MB of the installed footprint (docs/nlu.md).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TEXTS = [
    "hola",
    "Buenas tardes, quiero agendar una cita con la doctora para el martes a las 10",
    "cuánto cuesta la consulta general?",
    "a qué hora abren el sábado",
    "necesito cambiar mi cita de mañana a las 4 para el viernes",
    "cancelen mi cita por favor",
    "dónde están ubicados",
    "mi papá tiene dolor en el pecho y no puede respirar",
    "¿qué resultados salieron en mis análisis?",
    "quiero hablar con una persona",
    "ya no me manden mensajes",
    "eres un robot?",
    "holaaaa 😀😀",
    "gracias!!",
    "sí",
    "no gracias",
    "me llamo Karla Ibarra y mi número es 55 5000 0123",
    "I would like to book an appointment tomorrow at 5pm",
    "quiero ejercer mis derechos ARCO",
    "x" * 500,
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(archive: Path, port: int, threadpool: bool, plain: bool = False) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from bot.nlu import http
    from bot.nlu.model import load_archive

    async def pooled(request: Request) -> Response:
        text, reference = http.parse_body(await request.body())
        interpreter = request.app.state.interpreter
        return JSONResponse(await run_in_threadpool(interpreter.parse, text, reference))

    endpoint = pooled if threadpool else http.model_parse
    app = Starlette(routes=[Route("/model/parse", endpoint, methods=["POST"])])
    app.state.interpreter = load_archive(archive)
    options: dict[str, str] = {"loop": "asyncio", "http": "h11"} if plain else {}
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, **options)


def http_figures(archive: Path, requests: int, threadpool: bool, plain: bool = False) -> None:
    import httpx

    port = free_port()
    command = [sys.executable, __file__, "--serve", str(archive), "--port", str(port)]
    if threadpool:
        command.append("--threadpool")
    if plain:
        command.append("--plain-uvicorn")
    server = subprocess.Popen(command, cwd=ROOT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.post("/model/parse", json={"text": "hola"})
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("server did not start") from None
                    time.sleep(0.05)
            for text in TEXTS * 5:  # warm-up
                client.post("/model/parse", json={"text": text})
            timings: list[float] = []
            started = time.perf_counter()
            for i in range(requests):
                t0 = time.perf_counter()
                response = client.post("/model/parse", json={"text": TEXTS[i % len(TEXTS)]})
                timings.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"unexpected status {response.status_code}")
            elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    label = "HTTP (run_in_threadpool)" if threadpool else "HTTP (direct, as served)"
    if plain:
        label = "HTTP (direct, asyncio+h11)"
    print(
        f"{label:28s} p50 {percentile(timings, 50):.3f} ms  p95 {percentile(timings, 95):.3f} ms  "
        f"p99 {percentile(timings, 99):.3f} ms  {requests / elapsed:.0f} req/s  (n={requests})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--nlu", default=str(ROOT / "nlu"))
    parser.add_argument("--config", default=str(ROOT / "config.yml"))
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--threadpool", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--plain-uvicorn", action="store_true", help="also serve with asyncio + h11 (no uvicorn[standard])"
    )
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve), args.port, args.threadpool, args.plain_uvicorn)
        return

    from bot.nlu.model import load_archive
    from bot.nlu.training import train

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = train(args.nlu, args.config, tmp, force=True)
        train_seconds = time.perf_counter() - started
        loads = []
        for _ in range(5):
            t0 = time.perf_counter()
            interpreter = load_archive(result.archive)
            loads.append(time.perf_counter() - t0)
        print(
            f"train (incl. data load + archive write)  {train_seconds:.2f} s  "
            f"(fit alone {result.seconds:.2f} s)"
        )
        print(
            f"model load                               {statistics.median(loads) * 1000:.0f} ms (median of 5)"
        )
        for text in TEXTS * 10:
            interpreter.parse(text)
        timings = []
        for i in range(args.requests * 2):
            t0 = time.perf_counter()
            interpreter.parse(TEXTS[i % len(TEXTS)])
            timings.append((time.perf_counter() - t0) * 1000)
        print(
            f"{'in-process parse':28s} p50 {percentile(timings, 50):.3f} ms  "
            f"p95 {percentile(timings, 95):.3f} ms  "
            f"p99 {percentile(timings, 99):.3f} ms  (n={len(timings)})"
        )
        http_figures(result.archive, args.requests, threadpool=False)
        http_figures(result.archive, args.requests, threadpool=True)
        if args.plain_uvicorn:
            http_figures(result.archive, args.requests, threadpool=False, plain=True)


if __name__ == "__main__":
    main()
