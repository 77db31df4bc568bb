"""CPU time the app spends per request, called straight through WSGI: no server, no client, no network.

    .venv/bin/python bench/app_cpu.py                 # every scenario, 5,000 requests each
    .venv/bin/python bench/app_cpu.py put --requests 2000

What each change to the hot path saves is measured with this (the full benchmark, bench/run.py,
adds the server's own cost and the machine's noise). The requests are built first, as in
bench/run.py; each scenario runs in 5 slices and the fastest slice is reported, since a shared
machine only ever adds time.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run as bench  # noqa: E402 - bench/ is not a package

from eventclient import jws  # noqa: E402
from mockserver import create_app  # noqa: E402
from mockserver.backend import backend_of  # noqa: E402
from mockserver.seed import apply_seed  # noqa: E402

SLICES = 5


def environ_of(request_line: str) -> dict[str, Any]:
    """A WSGI environ for one request in bench/run.py's line format."""
    method, path, body_text, *headers = request_line.split("\t")
    body = b"" if body_text == "-" else body_text.encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }  # fmt: skip
    for header in headers:
        name, value = header.split("=", 1)
        key = "CONTENT_TYPE" if name.lower() == "content-type" else "HTTP_" + name.upper().replace("-", "_")
        environ[key] = value
    return environ


def _counting(statuses: Counter[str]) -> Any:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses[status] += 1

    return start_response


SCENARIOS = ("healthz", "put", "refused", "put1", "put100")


def seeded_app(directory: str) -> tuple[Any, dict[str, Callable[[int], list[str]]]]:
    """A mock app on a database in ``directory``, and per scenario a maker of ``count`` of its requests."""
    pair = jws.generate_rsa_keypair(2048)
    app = create_app({"DATABASE": os.path.join(directory, "cpu.sqlite")})
    seed = {"licenses": [{"licenseKey": bench.LICENSE, "authLevel": "system"}],
            "tendukeClients": [{"publicKeyPem": pair.public_pem}]}  # fmt: skip
    apply_seed(backend_of(app), seed)
    creds = bench.Credentials(backend_of(app).kosmos.primary_key().public_key, rsa=pair)
    return app, {
        "healthz": lambda count: [bench.line("GET", "/events/healthz")] * count,
        "put": lambda count: bench.kosmos_puts(creds, count, bench.LICENSE),
        "refused": lambda count: bench.kosmos_puts(creds, count, bench.BAD_LICENSE),
        "put1": lambda count: bench.tenduke_puts(creds, 1, distinct=count),
        "put100": lambda count: bench.tenduke_puts(creds, 100, distinct=max(count // 20, SLICES)),
    }


def main() -> int:
    """Print the app's CPU microseconds per request for each scenario."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--requests", type=int, default=5000, help="requests per scenario (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app, makers = seeded_app(tmp)
        for name in args.scenarios:
            environs = [environ_of(request) for request in makers[name](args.requests)]
            statuses: Counter[str] = Counter()
            start_response = _counting(statuses)
            size = len(environs) // SLICES
            best = float("inf")
            for part in range(SLICES):
                chunk = environs[part * size : (part + 1) * size]
                started = time.process_time()
                for environ in chunk:
                    b"".join(app(environ, start_response))
                best = min(best, (time.process_time() - started) / size)
            print(f"{name:8} {best * 1e6:7.0f} µs CPU/request  ({dict(statuses)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
