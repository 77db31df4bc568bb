"""Benchmark the mock against a bare Flask app and Stoplight Prism; print a Markdown table.

    .venv/bin/python bench/run.py                  # every scenario, about 25 minutes; writes bench/results.md
    .venv/bin/python bench/run.py --only put,query # just these (see --help for the names)

Load comes from wrk on one core, every server runs on the other (taskset), all on loopback.
Requests are signed before a run starts, so the load generator does no crypto. The mock, bare
Flask and Prism run at once, each on its own port, and take turns run by run, so a slow spell of
a shared machine falls on all of them alike. Each scenario runs ``--repeats`` times per server
and the median of each figure is reported. wrk (Debian package) and
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
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
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
def ensure_debian_tool(command: str, package: str) -> str:
    """The path of ``command``, installing Debian's ``package`` if it is missing."""
    if shutil.which(command) is None:
        print(f"installing {command} (apt-get install {package})", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run([*sudo, "apt-get", "install", "-y", "-q", package], check=True, stdout=subprocess.DEVNULL)
    return str(shutil.which(command))


def ensure_wrk() -> str:
    """The path of wrk, installing the Debian package if it is missing."""
    return ensure_debian_tool("wrk", "wrk")


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


def start(stack: contextlib.ExitStack, name: str, command: list[str], ready_path: str) -> Target:
    """Start a server on a free port (``{port}`` in ``command``), pinned to the server core, until ``stack`` closes."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [part.replace("{port}", str(port)) for part in command]
    print(f"{name}: {' '.join(command)}", file=sys.stderr)
    process = stack.enter_context(running(pinned(command), base + ready_path))
    return Target(name, base, process.pid)


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
    reports_public_key: str | None = None
    """The reports service's own public key (the event query's headers are encrypted to it)."""

    @property
    def key(self) -> bytes:
        """The AES key shared with the mock's events service."""
        return kosmos_crypto.shared_key(self.caller.private_key, self.server_public_key)

    @property
    def reports_key(self) -> bytes:
        """The AES key shared with the mock's reports service."""
        return kosmos_crypto.shared_key(self.caller.private_key, self.reports_public_key or self.server_public_key)


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
    cpu_us: float = float("nan")
    """Server CPU time (user + system, all its processes) per request, in microseconds."""


def _ms(text: str) -> float:
    """A wrk duration (``812.00us``, ``3.36ms``, ``1.02s``, ``1.50m``) in milliseconds; NaN if wrk printed none."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        return float("nan")
    return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[match.group(2)]


def run_wrk(wrk: str, url: str, lines: list[str], seconds: int, connections: int) -> Figures:
    """One wrk run of ``lines`` against ``url``."""
    with tempfile.NamedTemporaryFile("w", suffix=".tsv") as requests:
        requests.write("\n".join(lines) + "\n")
        requests.flush()
        command = [
            "taskset", "-c", str(LOAD_CORE), wrk, "-t1", f"-c{connections}", f"-d{seconds}s",
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
        statistics.median(r.cpu_us for r in runs),
    )


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` and all its descendants (living), from /proc."""
    total, pending = 0, [pid]
    while pending:
        each = pending.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
            for task in Path(f"/proc/{each}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    """A running server the scenarios are measured on."""

    name: str
    base: str
    pid: int


def measure_once(wrk: str, target: Target, lines: list[str], seconds: int, connections: int) -> Figures:
    """One wrk run of ``lines`` against ``target``, with the server's CPU time per request.

    The server's CPU time is read before and after the run, so CPU per request is known even
    when a busy neighbour on a shared machine lowers the request rate.
    """
    before = tree_cpu_seconds(target.pid)
    figures = run_wrk(wrk, target.base, lines, seconds, connections)
    figures.cpu_us = (tree_cpu_seconds(target.pid) - before) / max(figures.requests, 1) * 1e6
    return figures


def measure(
    wrk: str, base: str, make_lines: Callable[[], list[str]], args: argparse.Namespace, label: str, pid: int
) -> Figures:
    """A scenario on one server (``pid`` serving ``base``): its median figures, as :func:`compare` measures them."""
    args.warmup = getattr(args, "warmup", 2)
    return compare(wrk, [Target(label, base, pid)], make_lines, args, label)[0]


def compare(
    wrk: str,
    targets: list[Target],
    make_lines: Callable[[], list[str]],
    args: argparse.Namespace,
    label: str,
    connections: int | None = None,
) -> list[Figures]:
    """Run a scenario ``args.repeats`` times on each target, alternating; each target's median figures.

    Each target first serves the scenario for ``args.warmup`` seconds, not counted (Prism's
    JavaScript is compiled as it runs). Then the servers take turns run by run (the first of
    each round rotates), so a slow spell of a shared machine falls on all of them alike instead
    of on whichever ran in that phase. Every run gets fresh requests.
    """
    connections = connections or args.connections
    if args.warmup:
        for target in targets:
            measure_once(wrk, target, make_lines(), args.warmup, connections)
    runs: dict[str, list[Figures]] = {t.name: [] for t in targets}
    for repeat in range(args.repeats):
        turn = repeat % len(targets)
        for target in targets[turn:] + targets[:turn]:
            r = measure_once(wrk, target, make_lines(), args.duration, connections)
            runs[target.name].append(r)
            print(f"  {target.name} {label} #{repeat + 1}: {r.rps:.0f} req/s, p50 {r.p50_ms:.2f} ms, "
                  f"p99 {r.p99_ms:.2f} ms, {r.cpu_us:.0f} us CPU/request, non-2xx {r.non_2xx}/{r.requests}",
                  file=sys.stderr)  # fmt: skip
    return [median_of(runs[t.name]) for t in targets]


# --- ingestion ---------------------------------------------------------------------------------
def _on_every_core() -> None:
    os.sched_setaffinity(0, range(os.cpu_count() or 1))


def signed_batch(private_pem: str, index: int, batch: int) -> str:
    """The ``index``-th signed ``/put`` body of ``batch`` events of feed ``bench-feed``."""
    return jws.sign_jws(tenduke_events(batch, "bench-feed", index * batch), private_pem)


def ingest(base: str, creds: Credentials, total: int, batch: int) -> float:
    """Put ``total`` events into feed ``bench-feed`` in batches (two clients); the seconds it took.

    The batches are signed first, on both cores, as every scenario's requests are: signing a
    1,000-event batch costs the client more than storing it costs the server.
    """
    with ProcessPoolExecutor(2, initializer=_on_every_core) as signers:
        tokens = list(signers.map(partial(signed_batch, creds.rsa.private_pem, batch=batch), range(total // batch)))

    def put(token: str, http: httpx.Client) -> None:
        response = http.post(f"{base}/put", content=token, headers={"Content-Type": "application/jose"})
        if response.status_code != 200:
            raise SystemExit(f"ingestion refused: {response.status_code} {response.text}")

    started = time.monotonic()
    with httpx.Client(timeout=60) as a, httpx.Client(timeout=60) as b, ThreadPoolExecutor(2) as pool:
        for done, _ in enumerate(pool.map(lambda i: put(tokens[i], a if i % 2 else b), range(len(tokens))), 1):
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


# --- the 1Kosmos query at scale -----------------------------------------------------------------
QUERY_TENANT, QUERY_COMMUNITY, QUERY_NAMES, QUERY_DAYS = "bench", "bench-query", 10, 60


def store_kosmos_events(database: str, count: int) -> float:
    """Write ``count`` events of one tenant and community straight into the mock's database; seconds taken.

    They are spread evenly over the last ``QUERY_DAYS`` days and over ``QUERY_NAMES`` event names,
    through the store's own write (so the kept counts stay right). The PUT path is measured apart.
    """
    from mockserver.db import SqliteDatabase
    from mockserver.kosmos.store import KosmosStore

    store = KosmosStore(SqliteDatabase(database), time.time)
    started = time.monotonic()
    now_ms = int(time.time() * 1000)
    step = QUERY_DAYS * 86_400_000 // max(count, 1)
    for first in range(0, count, 20_000):
        with store.db.transaction() as tx:
            for n in range(first, min(first + 20_000, count)):
                ts = now_ms - QUERY_DAYS * 86_400_000 + n * step
                store.write_event(tx, {"type": "event", "n": n, "tenant_id": QUERY_TENANT,
                                       "community_id": QUERY_COMMUNITY, "eventName": f"E_Q{n % QUERY_NAMES}",
                                       "event_ts": ts})  # fmt: skip
    store.db.close()
    return time.monotonic() - started


def kosmos_queries(count: int) -> list[tuple[str, dict[str, object]]]:
    """The query scenarios: the first page with and without filters, and a page far in."""

    def at(days_ago: float) -> str:
        moment = time.time() - days_ago * 86_400
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment)) + ".000"

    window = {"from": at(QUERY_DAYS + 1), "to": at(-1)}  # every stored event is inside
    named = {"query": {"event_name": "E_Q3"}}
    return [
        (f"1Kosmos query, first page of {count:,} events (one reader)", {"pSize": 25, "pIndex": 0}),
        (f"1Kosmos query, first page, event_name ({count // QUERY_NAMES:,} match; one reader)", {"pSize": 25, **named}),
        (f"1Kosmos query, first page, from/to around all {count:,} (one reader)", {"pSize": 25, **window}),
        ("1Kosmos query, first page, event_name and from/to (one reader)", {"pSize": 25, **named, **window}),
        ("1Kosmos query, page index 9,000 of 25 events (one reader)", {"pSize": 25, "pIndex": 9000}),
    ]


def kosmos_query_lines(creds: Credentials, count: int, body: dict[str, object]) -> list[str]:
    """``count`` signed queries with ``body``, each with its own request id."""
    key, path = creds.reports_key, f"/reports/tenant/{QUERY_TENANT}/community/{QUERY_COMMUNITY}/events"
    text = json.dumps(body)
    out = []
    for _ in range(count):
        request_id = json.dumps({"ts": int(time.time()), "uuid": str(uuid.uuid4()), "appid": "bench"})
        out.append(
            line("POST", path, text, **{"Content-Type": "application/json", "publickey": creds.caller.public_key},
                 licensekey=kosmos_crypto.encrypt(LICENSE, key), requestid=kosmos_crypto.encrypt(request_id, key))
        )  # fmt: skip
    return out


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
        "| Scenario | mock req/s | mock p50 | mock p99 | mock CPU/req | bare Flask req/s | Prism req/s "
        "| Prism CPU/req | mock / bare Flask | mock / Prism |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r.scenario} | {r.mock.rps:,.0f} | {r.mock.p50_ms:.2f} ms | {r.mock.p99_ms:.2f} ms "
            f"| {r.mock.cpu_us:,.0f} µs | {f'{r.flask.rps:,.0f}' if r.flask else 'n/a'} "
            f"| {f'{r.prism.rps:,.0f}' if r.prism else 'n/a'} | {f'{r.prism.cpu_us:,.0f} µs' if r.prism else 'n/a'} "
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


SCENARIOS = {
    "healthz": "GET /events/healthz",
    "put": "1Kosmos signed event PUT",
    "refused": "1Kosmos refused PUT (bad license)",
    "put1": "10Duke /put, 1 event",
    "put100": "10Duke /put, 100 events",
    "get": "10Duke /get, 500-event page",
    "get1": ONE_READER,
    "query": "1Kosmos query at scale",
}
"""What ``--only`` takes, and the scenario each name stands for."""


def main() -> int:
    """Run the chosen scenarios and print (and save) the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario and server; the median is reported")
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds each server serves a scenario before it is measured (default: 2)"
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default: %(default)s)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, mock and bare Flask alike (default: one, for the one server core)",
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events stored before the /get and query runs")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        default=list(SCENARIOS),
        help=f"comma-separated scenarios to run, of: {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--no-prism", action="store_true", help="skip the Prism baseline")
    parser.add_argument("--output", type=Path, default=BENCH / "results.md", help="where to write the table")
    args = parser.parse_args()
    if unknown := set(args.only) - set(SCENARIOS):
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("bench: needs two cores (one for wrk, one for the server)")
    os.sched_setaffinity(0, {LOAD_CORE})
    wrk = ensure_wrk()
    prism = None if args.no_prism else ensure_prism()
    bin_dir = Path(sys.executable).parent
    rows: dict[str, Row] = {}
    notes: list[str] = []
    chosen = set(args.only)

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        seed = Path(tmp, "seed.json")
        pair = jws.generate_rsa_keypair(2048)
        seed.write_text(json.dumps({"licenses": [{"licenseKey": LICENSE, "authLevel": "system"}],
                                    "tendukeClients": [{"publicKeyPem": pair.public_pem}]}))  # fmt: skip
        database = f"{tmp}/bench.sqlite"
        serve = [str(bin_dir / "eventdouble"), "serve", "--port", "{port}", "--db", database, "--seed", str(seed),
                 "--workers", str(args.workers)]  # fmt: skip
        mock = start(servers, "mock", serve, "/events/healthz")
        memory = servers.enter_context(MemoryWatch(mock.pid))
        flask_serve = ["env", f"PYTHONPATH={BENCH}:{ROOT}", sys.executable, str(BENCH / "bare_flask.py"), "{port}",
                       str(args.workers)]  # fmt: skip
        flask = start(servers, "bare Flask", flask_serve, "/")
        kosmos_keys = {"healthz", "put", "refused", "query"}
        prism_server = None
        if prism and chosen & kosmos_keys - {"query"}:
            prism_serve = [prism, "mock", "-v", "silent", "-h", "127.0.0.1", "-p", "{port}",
                           str(ROOT / "openapi" / "kosmos-events.yaml")]  # fmt: skip
            prism_server = start(servers, "Prism", prism_serve, "/events/healthz")
        creds = Credentials(
            httpx.get(f"{mock.base}/events/publickeys").json()["publicKey"],
            rsa=pair,
            reports_public_key=httpx.get(f"{mock.base}/reports/publickeys").json()["publicKey"],
        )
        per_run = args.duration * 6000
        simple = [
            (key, name, make)
            for key, name, make in [
                ("healthz", SCENARIOS["healthz"], lambda: [line("GET", "/events/healthz")]),
                ("put", SCENARIOS["put"], lambda: kosmos_puts(creds, per_run, LICENSE)),
                ("refused", SCENARIOS["refused"], lambda: kosmos_puts(creds, 200, BAD_LICENSE)),
                ("put1", SCENARIOS["put1"], lambda: tenduke_puts(creds, 1)),
                ("put100", SCENARIOS["put100"], lambda: tenduke_puts(creds, 100)),
            ]
            if key in chosen
        ]
        for key, name, make in simple:
            targets = [mock, flask, *([prism_server] if prism_server and key in kosmos_keys else [])]
            rows[name] = Row(name, *compare(wrk, targets, make, args, name))
        before = memory.peak_mb
        reads: list[tuple[str, Callable[[], list[str]], int | None]] = []
        if chosen & {"get", "get1"}:
            seconds = ingest(mock.base, creds, args.events, 1000)
            notes.append(
                f"- Ingestion: {args.events:,} events through `/put` in batches of 1,000 (two clients, the batches "
                "signed before) took "
                f"{seconds:.0f} s ({args.events / seconds:,.0f} events/s)."
            )
            page = feed_page_line(mock.base, creds)
            if "get" in chosen:
                reads.append((f"10Duke /get, 500-event page of a {args.events:,}-event feed", lambda: [page], None))
            if "get1" in chosen:
                reads.append((ONE_READER, lambda: [page], 1))
        if "query" in chosen:
            seconds = store_kosmos_events(database, args.events)
            notes.append(
                f"- 1Kosmos query scenarios: {args.events:,} events of one tenant and community (10 event "
                f"names, over the last 60 days) written straight into the database in {seconds:.0f} s; "
                "each query is signed with its own request id."
            )
            for name, body in kosmos_queries(args.events):
                reads.append((name, lambda body=body: kosmos_query_lines(creds, per_run, body), 1))
        for name, make, connections in reads:
            rows[name] = Row(name, *compare(wrk, [mock, flask], make, args, name, connections))
        notes.append(
            f"- Server memory (PSS of the supervisor and its {args.workers} worker processes): peak "
            f"{before:.0f} MB before the stored events, {memory.peak_mb:.0f} MB over the whole run."
        )

    non_2xx = [
        f"{r.scenario}: {r.mock.non_2xx}" for r in rows.values() if r.mock.non_2xx and "refused" not in r.scenario
    ]
    notes.append(f"- Unexpected non-2xx answers from the mock: {', '.join(non_2xx) or 'none'}.")
    notes.append(
        f"- wrk -t1 -c{args.connections} -d{args.duration}s on core {LOAD_CORE}; each server on core {SERVER_CORE} "
        f"(`serve --workers {args.workers}`: uvicorn, the app on its event loop, for the mock and bare Flask alike; "
        "Prism 5 is one Node process); "
        f"the servers up at once, each warmed up for {args.warmup} s per scenario, then taking turns "
        f"run by run; median of {args.repeats} runs each. "
        "CPU/req is the server's user + system CPU time (all its processes, from "
        "/proc) over the requests wrk completed. Prism only serves the 1Kosmos spec, so it has no 10Duke figures."
    )
    result = table(list(rows.values()), notes, machine_description())
    args.output.write_text(result)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
