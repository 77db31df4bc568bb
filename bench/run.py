"""Benchmark the mock against a bare Flask app and Stoplight Prism; print a Markdown table.

    .venv/bin/python bench/run.py            # about 20 minutes; writes bench/results.md

Load comes from wrk on one core, every server runs on the other (taskset), all on loopback.
Requests are signed before a run starts, so the load generator does no crypto. Each scenario
runs ``--repeats`` times and the median of each figure is reported. wrk (Debian package) and
Prism (npm package @stoplight/prism-cli, installed under bench/.prism) are installed if missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eventclient import jws, kosmos_crypto  # noqa: E402 - after the path is set for a plain checkout

BENCH = ROOT / "bench"
LUA = BENCH / "requests.lua"
PRISM_DIR = BENCH / ".prism"
LICENSE = "bench-license-000000000001"
BAD_LICENSE = "no-such-license-0000000000"
LOAD_CORE, SERVER_CORE = 0, 1
ONE_READER = "the same /get, one reader (1 connection)"


# --- tools -------------------------------------------------------------------------------------
def ensure_wrk() -> str:
    """The path of wrk, installing the Debian package if it is missing."""
    if shutil.which("wrk") is None:
        print("installing wrk (apt-get install wrk)", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return str(shutil.which("wrk"))


def ensure_prism() -> str:
    """The path of the prism command, installing @stoplight/prism-cli under bench/.prism if needed."""
    prism = PRISM_DIR / "node_modules" / ".bin" / "prism"
    if not prism.exists():
        print("installing @stoplight/prism-cli with npm", file=sys.stderr)
        PRISM_DIR.mkdir(exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(PRISM_DIR), "@stoplight/prism-cli@5"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return str(prism)


# --- servers -----------------------------------------------------------------------------------
def pinned(command: list[str]) -> list[str]:
    """``command`` pinned to the server core."""
    return ["taskset", "-c", str(SERVER_CORE), *command]


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(command: list[str], url: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends; ready once ``url`` answers."""
    with tempfile.TemporaryFile() as log:
        yield from _run_server(command, url, log)


def _run_server(command: list[str], url: str, log: Any) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise SystemExit(f"server did not start: {' '.join(command)}\n{log.read().decode()}") from None
                time.sleep(0.2)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def tree_pss_mb(pid: int) -> float:
    """Proportional set size of ``pid`` and its children in MB (shared pages counted once)."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for each in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


@dataclass
class MemoryWatch:
    """Samples a process tree's memory in a thread; ``peak_mb`` is the highest seen."""

    pid: int
    peak_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> MemoryWatch:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.peak_mb = max(self.peak_mb, tree_pss_mb(self.pid))


# --- requests ----------------------------------------------------------------------------------
def line(method: str, path: str, body: str | None = None, **headers: str) -> str:
    """One request in the format bench/requests.lua reads."""
    fields = [method, path, body or "-", *(f"{name}={value}" for name, value in headers.items())]
    assert not any("\t" in f or "\n" in f for f in fields)
    return "\t".join(fields)


@dataclass
class Credentials:
    """What the signed scenarios need from a server."""

    server_public_key: str
    rsa: jws.PemKeyPair
    """The 10Duke client key registered with the mock by the seed file."""
    caller: kosmos_crypto.KeyPair = field(default_factory=kosmos_crypto.generate_keypair)

    @property
    def key(self) -> bytes:
        """The AES key shared with the mock."""
        return kosmos_crypto.shared_key(self.caller.private_key, self.server_public_key)


def kosmos_puts(creds: Credentials, count: int, license_key: str) -> list[str]:
    """``count`` signed 1Kosmos event PUTs, each with its own fresh request id."""
    key, lic = creds.key, license_key
    out = []
    for i in range(count):
        request_id = json.dumps({"ts": int(time.time()), "uuid": str(uuid.uuid4()), "appid": "bench"})
        body = json.dumps({"data": kosmos_crypto.encrypt(json.dumps({"type": "event", "n": i}), key)})
        out.append(
            line(
                "PUT",
                "/events/tenant/bench/community/bench/event/E_BENCH",
                body,
                **{"Content-Type": "application/json", "publickey": creds.caller.public_key},
                licensekey=kosmos_crypto.encrypt(lic, key),
                requestid=kosmos_crypto.encrypt(request_id, key),
            )
        )
    return out


def tenduke_events(count: int, source: str, start: int = 0) -> list[dict[str, object]]:
    """``count`` 10Duke events of one source."""
    return [
        {"eventSourceId": source, "eventType": "bench", "eventObjectType": "item", "eventObjectId": str(n % 97),
         "data": {"n": n}}
        for n in range(start, start + count)
    ]  # fmt: skip


def tenduke_puts(creds: Credentials, events_per_put: int, distinct: int = 50) -> list[str]:
    """Signed ``/put`` requests of ``events_per_put`` events each."""
    return [
        line(
            "POST",
            "/put",
            jws.sign_jws(tenduke_events(events_per_put, "bench-put", i * events_per_put), creds.rsa.private_pem),
            **{"Content-Type": "application/jose"},
        )
        for i in range(distinct)
    ]


# --- wrk ---------------------------------------------------------------------------------------
@dataclass
class Figures:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int


def _ms(text: str) -> float:
    """A wrk duration (``812.00us``, ``3.36ms``, ``1.02s``, ``1.50m``) in milliseconds; NaN if wrk printed none."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        return float("nan")
    return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[match.group(2)]


def run_wrk(wrk: str, url: str, lines: list[str], args: argparse.Namespace, connections: int) -> Figures:
    """One wrk run of ``lines`` against ``url``."""
    with tempfile.NamedTemporaryFile("w", suffix=".tsv") as requests:
        requests.write("\n".join(lines) + "\n")
        requests.flush()
        command = [
            "taskset", "-c", str(LOAD_CORE), wrk, "-t1", f"-c{connections}", f"-d{args.duration}s",
            "--latency", "-s", str(LUA), url,
        ]  # fmt: skip
        out = subprocess.run(
            command, env={**os.environ, "BENCH_REQUESTS": requests.name}, capture_output=True, text=True, check=True
        ).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> Figures:
    """The figures of one wrk run (``--latency``).

    The percentiles are read from the lines of the latency distribution only: an unanchored
    "50%" followed by a figure would also match the thread statistics (85.50% then Req/Sec).
    """
    rate = re.search(r"^Requests/sec:\s+([\d.]+)\s*$", out, re.M)
    p50_text = re.search(r"^\s+50%\s+([\d.]+(?:us|ms|s|m|h))\s*$", out, re.M)
    p99_text = re.search(r"^\s+99%\s+([\d.]+(?:us|ms|s|m|h))\s*$", out, re.M)
    if not (rate and p50_text and p99_text):
        raise SystemExit(f"bench: cannot read wrk's output:\n{out}")
    rps, p50, p99 = float(rate.group(1)), _ms(p50_text.group(1)), _ms(p99_text.group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if errors:
        print(f"    wrk: {errors.group(0)}", file=sys.stderr)
    return Figures(rps, p50, p99, int(bad.group(1)) if bad else 0, total)


def median_of(runs: list[Figures]) -> Figures:
    """The median of each figure over repeated runs."""
    return Figures(
        statistics.median(r.rps for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.non_2xx for r in runs),
        sum(r.requests for r in runs),
    )


def measure(
    wrk: str,
    url: str,
    make_lines: Callable[[], list[str]],
    args: argparse.Namespace,
    label: str,
    connections: int | None = None,
) -> Figures:
    """Run a scenario ``args.repeats`` times, with fresh requests each time; the median figures."""
    runs = []
    for repeat in range(args.repeats):
        runs.append(run_wrk(wrk, url, make_lines(), args, connections or args.connections))
        r = runs[-1]
        print(f"  {label} #{repeat + 1}: {r.rps:.0f} req/s, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, "
              f"non-2xx {r.non_2xx}/{r.requests}", file=sys.stderr)  # fmt: skip
    return median_of(runs)


# --- ingestion ---------------------------------------------------------------------------------
def ingest(base: str, creds: Credentials, total: int, batch: int) -> float:
    """Put ``total`` events into feed ``bench-feed`` in batches (two clients); the seconds it took."""

    def put(index: int, http: httpx.Client) -> None:
        token = jws.sign_jws(tenduke_events(batch, "bench-feed", index * batch), creds.rsa.private_pem)
        response = http.post(f"{base}/put", content=token, headers={"Content-Type": "application/jose"})
        if response.status_code != 200:
            raise SystemExit(f"ingestion refused: {response.status_code} {response.text}")

    started = time.monotonic()
    with httpx.Client(timeout=60) as a, httpx.Client(timeout=60) as b, ThreadPoolExecutor(2) as pool:
        for done, _ in enumerate(pool.map(lambda i: put(i, a if i % 2 else b), range(total // batch)), 1):
            if done % 100 == 0:
                print(f"  ingested {done * batch:,} events in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return time.monotonic() - started


def feed_page_line(base: str, creds: Credentials) -> str:
    """A ``/get`` of a 500-event page from the middle of ``bench-feed``."""
    token = jws.sign_bearer({"bench-feed": True, "exp": int(time.time()) + 7200}, creds.rsa.private_pem)
    auth = {"Authorization": f"Bearer {token}"}

    def received(query: str) -> int:
        page = httpx.get(f"{base}/get/bench-feed?{query}&maxEventCount=1", headers=auth, timeout=30).json()
        return next(int(o["eventReceived"]) for o in page["objects"] if "eventReceived" in o)

    middle = (received("after=0") + received("newest=true")) // 2
    return line("GET", f"/get/bench-feed?after={middle}&maxEventCount=500", None, **auth)


# --- the run -----------------------------------------------------------------------------------
@dataclass
class Row:
    """A scenario's figures on each server."""

    scenario: str
    mock: Figures
    flask: Figures | None = None
    prism: Figures | None = None


def _ratio(a: Figures, b: Figures | None) -> str:
    return f"{a.rps / b.rps:.2f}x" if b else "n/a"


def table(rows: list[Row], notes: list[str], machine: str) -> str:
    """The results as Markdown."""
    out = [
        f"Machine: {machine}",
        "",
        "| Scenario | mock req/s | mock p50 | mock p99 | bare Flask req/s | Prism req/s "
        "| mock / bare Flask | mock / Prism |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r.scenario} | {r.mock.rps:,.0f} | {r.mock.p50_ms:.2f} ms | {r.mock.p99_ms:.2f} ms "
            f"| {f'{r.flask.rps:,.0f}' if r.flask else 'n/a'} | {f'{r.prism.rps:,.0f}' if r.prism else 'n/a'} "
            f"| {_ratio(r.mock, r.flask)} | {_ratio(r.mock, r.prism)} |"
        )
    return "\n".join([*out, "", *notes]) + "\n"


def machine_description() -> str:
    """CPU model, core count and memory, from /proc."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "unknown CPU")  # fmt: skip
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, Linux {os.uname().release}, Python {sys.version.split()[0]}"
    )


def main() -> int:
    """Run every scenario and print (and save) the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario; the median is reported")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, mock and bare Flask alike")
    parser.add_argument("--events", type=int, default=1_000_000, help="events ingested before the /get run")
    parser.add_argument("--no-prism", action="store_true", help="skip the Prism baseline")
    parser.add_argument("--output", type=Path, default=BENCH / "results.md", help="where to write the table")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("bench: needs two cores (one for wrk, one for the server)")
    os.sched_setaffinity(0, {LOAD_CORE})
    wrk = ensure_wrk()
    prism = None if args.no_prism else ensure_prism()
    bin_dir = Path(sys.executable).parent
    rows: dict[str, Row] = {}
    notes: list[str] = []

    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp, "seed.json")
        pair = jws.generate_rsa_keypair(2048)
        seed.write_text(json.dumps({"licenses": [{"licenseKey": LICENSE, "authLevel": "system"}],
                                    "tendukeClients": [{"publicKeyPem": pair.public_pem}]}))  # fmt: skip
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [str(bin_dir / "eventdouble"), "serve", "--port", str(port), "--db", f"{tmp}/bench.sqlite",
                 "--seed", str(seed), "--workers", str(args.workers)]  # fmt: skip
        print(f"mock: {' '.join(serve)}", file=sys.stderr)
        with running(pinned(serve), f"{base}/events/healthz") as server, MemoryWatch(server.pid) as memory:
            creds = Credentials(httpx.get(f"{base}/events/publickeys").json()["publicKey"], rsa=pair)
            per_run = args.duration * 6000
            scenarios: list[tuple[str, Callable[[], list[str]]]] = [
                ("GET /events/healthz", lambda: [line("GET", "/events/healthz")]),
                ("1Kosmos signed event PUT", lambda: kosmos_puts(creds, per_run, LICENSE)),
                ("1Kosmos refused PUT (bad license)", lambda: kosmos_puts(creds, 200, BAD_LICENSE)),
                ("10Duke /put, 1 event", lambda: tenduke_puts(creds, 1)),
                ("10Duke /put, 100 events", lambda: tenduke_puts(creds, 100)),
            ]
            for name, make in scenarios:
                rows[name] = Row(name, measure(wrk, base, make, args, f"mock {name}"))
            before = memory.peak_mb
            seconds = ingest(base, creds, args.events, 1000)
            notes.append(
                f"- Ingestion: {args.events:,} events through `/put` in batches of 1,000 (two clients) took "
                f"{seconds:.0f} s ({args.events / seconds:,.0f} events/s)."
            )
            page = feed_page_line(base, creds)
            get_name = f"10Duke /get, 500-event page of a {args.events:,}-event feed"
            rows[get_name] = Row(get_name, measure(wrk, base, lambda: [page], args, f"mock {get_name}"))
            rows[ONE_READER] = Row(ONE_READER, measure(wrk, base, lambda: [page], args, f"mock {ONE_READER}", 1))
            notes.append(
                f"- Server memory (PSS of the gunicorn master and its {args.workers} workers): peak "
                f"{before:.0f} MB before ingestion, {memory.peak_mb:.0f} MB over the whole run."
            )

        flask_serve = [str(bin_dir / "gunicorn"), "--workers", str(args.workers), "--worker-class", "gevent",
                       "--bind", f"127.0.0.1:{port}", "--chdir", str(BENCH), "bare_flask:app"]  # fmt: skip
        with running(pinned(flask_serve), f"{base}/"):
            for name, make in scenarios:
                rows[name].flask = measure(wrk, base, make, args, f"bare Flask {name}")
            rows[get_name].flask = measure(wrk, base, lambda: [page], args, f"bare Flask {get_name}")
            rows[ONE_READER].flask = measure(wrk, base, lambda: [page], args, f"bare Flask {ONE_READER}", 1)

        if prism:
            prism_serve = [prism, "mock", "-v", "silent", "-h", "127.0.0.1", "-p", str(port),
                           str(ROOT / "openapi" / "kosmos-events.yaml")]  # fmt: skip
            with running(pinned(prism_serve), f"{base}/events/healthz"):
                for name, make in scenarios[:3]:
                    rows[name].prism = measure(wrk, base, make, args, f"Prism {name}")

    non_2xx = [
        f"{r.scenario}: {r.mock.non_2xx}" for r in rows.values() if r.mock.non_2xx and "refused" not in r.scenario
    ]
    notes.append(f"- Unexpected non-2xx answers from the mock: {', '.join(non_2xx) or 'none'}.")
    notes.append(
        f"- wrk -t1 -c{args.connections} -d{args.duration}s on core {LOAD_CORE}; each server on core {SERVER_CORE} "
        f"(gunicorn, {args.workers} gevent workers, for the mock and bare Flask alike; Prism 5 is one Node process); "
        f"median of {args.repeats} runs. Prism only serves the 1Kosmos spec, so it has no 10Duke figures."
    )
    result = table(list(rows.values()), notes, machine_description())
    args.output.write_text(result)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
