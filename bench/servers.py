"""Measure candidate load servers for the mock: the same app, the same core, the same requests.

    .venv/bin/python bench/servers.py            # a few minutes; prints a Markdown table

For each candidate: GET /events/healthz and the signed 1Kosmos PUT (req/s and server CPU per
request, as bench/run.py measures them), then whether it still answers /events/healthz within a
second while 100 connections drip their request bodies a byte at a time (a slow client must not
hold the server). granian, gunicorn and gevent are installed with pip if missing: candidates, not dependencies.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

from eventclient import jws
from mockserver import create_app
from mockserver.backend import backend_of
from mockserver.seed import apply_seed


def candidates(port: int, database: str, workers: int) -> dict[str, list[str]]:
    """The command line of each candidate server, serving ``create_app()`` (settings from the environment)."""
    bin_dir = Path(sys.executable).parent
    factory = "mockserver:create_app"
    return {
        f"eventdouble serve --workers {workers} (uvicorn, the app in a greenlet on each event loop: shipped)": [
            str(bin_dir / "eventdouble"), "serve", "--port", str(port), "--db", database, "--workers", str(workers)],
        f"gunicorn, {workers} gevent workers (shipped before)": [
            str(bin_dir / "gunicorn"), "--workers", str(workers), "--worker-class", "gevent", "--keep-alive", "5",
            "--bind", f"127.0.0.1:{port}", f"{factory}()"],
        f"granian, WSGI, {workers} workers x 1 blocking thread": [
            str(bin_dir / "granian"), "--interface", "wsgi", "--factory", "--port", str(port), "--workers",
            str(workers), "--blocking-threads", "1", "--no-log", factory],
        f"granian, WSGI, {workers} workers x 8 blocking threads": [
            str(bin_dir / "granian"), "--interface", "wsgi", "--factory", "--port", str(port), "--workers",
            str(workers), "--blocking-threads", "8", "--no-log", factory],
        f"gunicorn, gthread, {workers} workers x 8 threads": [
            str(bin_dir / "gunicorn"), "--workers", str(workers), "--threads", "8", "--bind", f"127.0.0.1:{port}",
            f"{factory}()"],
        "eventdouble serve (one threaded werkzeug process: the default)": [
            str(bin_dir / "eventdouble"), "serve", "--port", str(port), "--db", database],
    }  # fmt: skip


def survives_slow_bodies(port: int, connections: int = 100) -> str:
    """The slowest of three /events/healthz while ``connections`` drip their bodies; 'no' past 1 s."""
    slow = []
    try:
        for _ in range(connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"POST /__admin/licenses HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{")  # fmt: skip
            slow.append(sock)
        worst = 0.0
        for _ in range(3):
            for sock in slow:
                sock.sendall(b" ")
            started = time.perf_counter()
            try:
                httpx.get(f"http://127.0.0.1:{port}/events/healthz", timeout=2).raise_for_status()
            except httpx.HTTPError:
                return "no (healthz timed out)"
            worst = max(worst, time.perf_counter() - started)
            time.sleep(0.3)
        return f"yes ({worst * 1000:.0f} ms)" if worst < 1 else f"no ({worst:.1f} s)"
    finally:
        for sock in slow:
            sock.close()


def main() -> int:
    """Measure every candidate; print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per scenario; the median is reported")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of each (default: %(default)s)")
    args = parser.parse_args()
    args.connections = 8
    os.sched_setaffinity(0, {bench.LOAD_CORE})
    wrk = bench.ensure_wrk()
    for candidate in ("granian", "gunicorn", "gevent"):
        if importlib.util.find_spec(candidate) is None:
            print(f"installing {candidate} (a candidate only) with pip", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", candidate], check=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        database = f"{tmp}/servers.sqlite"
        pair = jws.generate_rsa_keypair(2048)
        app = create_app({"DATABASE": database})
        apply_seed(backend_of(app), {"licenses": [{"licenseKey": bench.LICENSE, "authLevel": "system"}],
                                     "tendukeClients": [{"publicKeyPem": pair.public_pem}]})  # fmt: skip
        public_key = backend_of(app).kosmos.primary_key().public_key
        backend_of(app).db.close()
        os.environ["EVENTDOUBLE_DATABASE"] = database
        creds = bench.Credentials(public_key, rsa=pair)
        port = bench.free_port()
        base = f"http://127.0.0.1:{port}"
        for name, command in candidates(port, database, args.workers).items():
            with bench.running(bench.pinned(command), f"{base}/events/healthz") as server:
                health = bench.measure(wrk, base, lambda: [bench.line("GET", "/events/healthz")], args, name,
                                       server.pid)  # fmt: skip
                put = bench.measure(wrk, base, lambda: bench.kosmos_puts(creds, args.duration * 6000, bench.LICENSE),
                                    args, name, server.pid)  # fmt: skip
                rows.append((name, health, put, survives_slow_bodies(port)))
    print(f"Machine: {bench.machine_description()}\n")
    print(
        "| Server | healthz req/s | healthz CPU/req | signed PUT req/s | signed PUT CPU/req | p99 PUT "
        "| answers while 100 clients drip bodies |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, health, put, slow in rows:
        print(f"| {name} | {health.rps:,.0f} | {health.cpu_us:,.0f} µs | {put.rps:,.0f} | {put.cpu_us:,.0f} µs "
              f"| {put.p99_ms:.0f} ms | {slow} |")  # fmt: skip
    print(f"\nwrk -t1 -c8 -d{args.duration}s on core {bench.LOAD_CORE}, each server on core {bench.SERVER_CORE}; "
          f"median of {args.repeats} run(s).")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
