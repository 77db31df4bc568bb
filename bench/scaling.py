"""Scale out: 1, 2 and 3 mock processes on one database behind nginx, PostgreSQL against SQLite.

    .venv/bin/python bench/scaling.py                    # about 15 minutes; prints two Markdown tables
    .venv/bin/python bench/scaling.py --processes 1,3 --engines postgresql --layouts one-core

Each configuration is the README's "Scaling out" recipe: N ``eventdouble serve --workers 1``
processes on one database, nginx (docs/scaling-out/nginx.conf, its ports substituted) in front,
wrk on core 0 sending signed 1Kosmos PUTs and 10Duke ``/put`` of 100 events to nginx. Two layouts:
``one-core`` pins the mock processes, nginx and PostgreSQL to core 1 (what more processes cost
when there is no core to gain); ``both-cores`` lets them use both cores (wrk keeps core 0).

Reported per run: req/s, p50/p99, and CPU per request of each part (the mock processes, nginx,
PostgreSQL's processes) from /proc. Measured apart: how many write transactions PostgreSQL
commits one after another on this machine, the ceiling the shared write lock sets on batches of
writes from any number of processes.

PostgreSQL: ``--postgres URL`` of a database whose server lets this user create databases; by
default ``.ci/postgres`` starts Debian's cluster and gives its URL. wrk and nginx (Debian packages)
are installed if missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

from eventclient import jws

ROOT = bench.ROOT
RECIPE = ROOT / "docs" / "scaling-out" / "nginx.conf"
LAYOUTS = {"one-core": {bench.SERVER_CORE}, "both-cores": {bench.LOAD_CORE, bench.SERVER_CORE}}
"""Where the mock processes, nginx and PostgreSQL may run, per layout; wrk always runs on core 0."""


# --- tools -------------------------------------------------------------------------------------
def default_postgres() -> str:
    """The URL ``.ci/postgres`` prints after starting Debian's cluster (installing it if needed)."""
    script = ROOT / ".ci" / "postgres"
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout.strip()


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead of its own."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on ``url``'s server, dropped when the block ends."""
    name = f"eventdouble_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield with_database(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process on this machine (the postmaster and its children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in {"postgres", "postmaster"}:
                    pids.append(int(entry.name))
    return pids


@contextlib.contextmanager
def postgres_on(cores: set[int]) -> Iterator[None]:
    """PostgreSQL's processes on ``cores`` until the block ends (new backends inherit it from the postmaster)."""
    everywhere = set(range(os.cpu_count() or 1))
    for pid in postgres_pids():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cores)
    try:
        yield
    finally:
        for pid in postgres_pids():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, everywhere)


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of ``pids`` and their descendants, from /proc."""
    return sum(bench.tree_cpu_seconds(pid) for pid in pids)


# --- one configuration -------------------------------------------------------------------------
@dataclass
class Fleet:
    """N mock processes on one database and nginx in front; what the runs are measured on."""

    front: str
    mock_pids: list[int]
    nginx_pid: int
    database: str


def nginx_conf(directory: Path, listen: int, ports: list[int]) -> Path:
    """The recipe's nginx.conf for ``ports`` (one upstream line per mock process) listening on ``listen``."""
    text = RECIPE.read_text().replace("127.0.0.1:8080", f"127.0.0.1:{listen}")
    upstream = [line for line in text.splitlines() if "server 127.0.0.1:808" in line]
    if len(upstream) != 3:
        raise SystemExit(f"bench: {RECIPE} no longer has three upstream lines; update bench/scaling.py")
    servers = "\n".join(upstream[0].replace("127.0.0.1:8081", f"127.0.0.1:{port}") for port in ports)
    text = text.replace("\n".join(upstream), servers)
    conf = directory / "nginx.conf"
    conf.write_text(text)
    directory.chmod(0o777)  # nginx's workers (nobody, under root) keep their temporary files here
    return conf


@contextlib.contextmanager
def fleet(database: str, processes: int, seed: Path, cores: set[int], tmp: Path) -> Iterator[Fleet]:
    """``processes`` mock processes on ``database`` and nginx in front, all on ``cores``."""
    bin_dir = Path(sys.executable).parent
    ports = [bench.free_port() for _ in range(processes)]
    pin = ["taskset", "-c", ",".join(map(str, sorted(cores)))]
    with contextlib.ExitStack() as stack:
        pids = []
        for n, port in enumerate(ports):
            command = [*pin, str(bin_dir / "eventdouble"), "serve", "--port", str(port), "--db", database,
                       "--workers", "1", *(["--seed", str(seed)] if n == 0 else [])]  # fmt: skip
            server = stack.enter_context(bench.running(command, f"http://127.0.0.1:{port}/events/healthz"))
            pids.append(server.pid)
        listen = bench.free_port()
        directory = tmp / f"nginx-{uuid.uuid4().hex[:8]}"
        directory.mkdir()
        conf = nginx_conf(directory, listen, ports)
        front = f"http://127.0.0.1:{listen}"
        nginx = stack.enter_context(bench.running([*pin, "nginx", "-p", str(directory), "-c", str(conf)],
                                                  f"{front}/events/healthz"))  # fmt: skip
        yield Fleet(front, pids, nginx.pid, database)


@dataclass
class Run:
    """One wrk run through nginx, with each part's CPU time per request."""

    figures: bench.Figures
    mock_us: float
    nginx_us: float
    postgres_us: float
    lock_held: float = float("nan")
    """Share of the time the write lock was held (PostgreSQL only), in a run of its own."""
    lock_rps: float = float("nan")
    """The req/s of that run."""


def measure(wrk: str, target: Fleet, lines: list[str], seconds: int, connections: int) -> Run:
    """One wrk run of ``lines`` against ``target``'s nginx."""
    on_postgres = target.database.startswith("postgresql://")
    pg = postgres_pids() if on_postgres else []
    before = (cpu_seconds(target.mock_pids), cpu_seconds([target.nginx_pid]), cpu_seconds(pg))
    figures = bench.run_wrk(wrk, target.front, lines, seconds, connections)
    pg = postgres_pids() if on_postgres else []
    after = (cpu_seconds(target.mock_pids), cpu_seconds([target.nginx_pid]), cpu_seconds(pg))
    done = max(figures.requests, 1)
    per = [(b - a) / done * 1e6 for a, b in zip(before, after, strict=True)]
    figures.cpu_us = sum(per)
    return Run(figures, *per)


def write_lock_held(wrk: str, target: Fleet, lines: list[str], seconds: int, connections: int) -> tuple[float, float]:
    """How much of a wrk run PostgreSQL's write lock was held (sampled every 2 ms from pg_locks), and its req/s.

    Run apart from the measured runs: the sampling costs the database a little CPU. If the lock
    is held a share ``h`` of the time at ``r`` req/s, no number of processes or cores gets past
    about ``r / h`` (while the batches stay as large).
    """
    from mockserver.postgres import WRITE_LOCK

    held = total = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal held, total
        with psycopg.connect(target.database, autocommit=True) as conn:
            while not stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
                    " AND classid::bigint = %s AND objid::bigint = %s",
                    (WRITE_LOCK >> 32, WRITE_LOCK & 0xFFFFFFFF),
                ).fetchone()
                total += 1
                held += bool(row and row[0])
                time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        figures = bench.run_wrk(wrk, target.front, lines, seconds, connections)
    finally:
        stop.set()
        sampler.join()
    return held / max(total, 1), figures.rps


def median_run(runs: list[Run]) -> Run:
    """The median of each figure."""
    return Run(
        bench.median_of([r.figures for r in runs]),
        statistics.median(r.mock_us for r in runs),
        statistics.median(r.nginx_us for r in runs),
        statistics.median(r.postgres_us for r in runs),
    )


def serial_commit_rate(url: str, seconds: float = 3.0) -> float:
    """Write transactions PostgreSQL commits per second one after another (write lock, one insert, commit).

    Every write of the mock holds one advisory lock from its first statement to its commit, so
    this rate (times the requests one commit carries) bounds any number of processes.
    """
    from mockserver.postgres import WRITE_LOCK

    with fresh_database(url) as database, psycopg.connect(database) as conn:
        conn.execute("CREATE TABLE probe (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body TEXT)")
        conn.commit()
        done, started = 0, time.monotonic()
        while time.monotonic() - started < seconds:
            conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (WRITE_LOCK,))
            conn.execute("INSERT INTO probe (body) VALUES (%s)", ("x" * 200,))
            conn.commit()
            done += 1
        return done / (time.monotonic() - started)


# --- the run -----------------------------------------------------------------------------------
def scenarios(creds: bench.Credentials, duration: int) -> dict[str, Callable[[], list[str]]]:
    """The two scenarios of the issue, as fresh request lines per run."""
    return {
        "signed 1Kosmos PUT": lambda: bench.kosmos_puts(creds, duration * 6000, bench.LICENSE),
        "10Duke /put, 100 events": lambda: bench.tenduke_puts(creds, 100),
    }


def table(results: list[tuple[str, str, int, str, Run]]) -> str:
    """The results as Markdown, one table per layout."""
    out = []
    for layout in dict.fromkeys(r[0] for r in results):
        out += [
            f"Layout `{layout}`:",
            "",
            "| Scenario | engine | processes | req/s | p50 | p99 | CPU/req: mock | nginx | PostgreSQL | all "
            "| write lock held | req/s at 100 % |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for _, scenario, processes, engine, r in (x for x in results if x[0] == layout):
            f = r.figures
            lock = (
                "n/a | n/a"
                if r.lock_held != r.lock_held
                else f"{r.lock_held:.0%} | {r.lock_rps / max(r.lock_held, 1e-9):,.0f}"
            )
            out.append(
                f"| {scenario} | {engine} | {processes} | {f.rps:,.0f} | {f.p50_ms:.2f} ms | {f.p99_ms:.2f} ms "
                f"| {r.mock_us:,.0f} µs | {r.nginx_us:,.0f} µs | {r.postgres_us:,.0f} µs | {f.cpu_us:,.0f} µs "
                f"| {lock} |"
            )
        out.append("")
    return "\n".join(out)


def main() -> int:
    """Run every configuration and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration; the median is reported")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before each configuration is measured")
    parser.add_argument("--connections", type=int, default=12, help="wrk connections (default: %(default)s)")
    parser.add_argument("--processes", type=lambda t: [int(n) for n in t.split(",")], default=[1, 2, 3],
                        help="mock process counts, comma-separated (default: 1,2,3)")  # fmt: skip
    parser.add_argument("--engines", type=lambda t: t.split(","), default=["sqlite", "postgresql"],
                        help="sqlite, postgresql or both (default: both)")  # fmt: skip
    parser.add_argument("--layouts", type=lambda t: t.split(","), default=list(LAYOUTS),
                        help=f"comma-separated, of: {', '.join(LAYOUTS)} (default: both)")  # fmt: skip
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server's URL (default: from .ci/postgres)")
    parser.add_argument("--output", type=Path, default=bench.BENCH / "scaling.md", help="where to write the tables")
    args = parser.parse_args()
    if bad := set(args.layouts) - set(LAYOUTS) or set(args.engines) - {"sqlite", "postgresql"}:
        parser.error(f"unknown layout or engine: {', '.join(sorted(bad))}")
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("bench: needs two cores (one for wrk, one for the servers)")
    os.sched_setaffinity(0, {bench.LOAD_CORE})
    wrk = bench.ensure_wrk()
    bench.ensure_debian_tool("nginx", "nginx-light")
    postgres = (args.postgres or default_postgres()) if "postgresql" in args.engines else ""
    results: list[tuple[str, str, int, str, Run]] = []
    notes = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pair = jws.generate_rsa_keypair(2048)
        seed = tmp / "seed.json"
        seed.write_text(json.dumps({"licenses": [{"licenseKey": bench.LICENSE, "authLevel": "system"}],
                                    "tendukeClients": [{"publicKeyPem": pair.public_pem}]}))  # fmt: skip
        for layout in args.layouts:
            cores = LAYOUTS[layout]
            with postgres_on(cores) if postgres else contextlib.nullcontext():
                if postgres:
                    rate = serial_commit_rate(postgres)
                    notes.append(f"- `{layout}`: PostgreSQL commits {rate:,.0f} write transactions per second one "
                                 "after another (advisory lock, one insert, commit).")  # fmt: skip
                    print(notes[-1], file=sys.stderr)
                for processes in args.processes:
                    for engine in args.engines:
                        with contextlib.ExitStack() as stack:
                            if engine == "postgresql":
                                database = stack.enter_context(fresh_database(postgres))
                            else:
                                database = str(tmp / f"scaling-{uuid.uuid4().hex[:8]}.sqlite")
                            target = stack.enter_context(fleet(database, processes, seed, cores, tmp))
                            public = httpx.get(f"{target.front}/events/publickeys").json()["publicKey"]
                            creds = bench.Credentials(public, rsa=pair)
                            for scenario, make in scenarios(creds, args.duration).items():
                                if args.warmup:
                                    measure(wrk, target, make(), args.warmup, args.connections)
                                runs = []
                                for n in range(args.repeats):
                                    r = measure(wrk, target, make(), args.duration, args.connections)
                                    runs.append(r)
                                    f = r.figures
                                    print(f"  {layout} {scenario}, {engine}, {processes} processes #{n + 1}: "
                                          f"{f.rps:,.0f} req/s, p99 {f.p99_ms:.1f} ms, CPU/req mock {r.mock_us:.0f} "
                                          f"nginx {r.nginx_us:.0f} postgres {r.postgres_us:.0f} us, "
                                          f"non-2xx {f.non_2xx}/{f.requests}",
                                          file=sys.stderr)  # fmt: skip
                                result = median_run(runs)
                                if engine == "postgresql":
                                    result.lock_held, result.lock_rps = write_lock_held(
                                        wrk, target, make(), args.duration, args.connections
                                    )
                                    print(f"  write lock held {result.lock_held:.0%} of a run at "
                                          f"{result.lock_rps:,.0f} req/s", file=sys.stderr)  # fmt: skip
                                results.append((layout, scenario, processes, engine, result))
    non_2xx = sum(r[4].figures.non_2xx for r in results)
    notes.append(f"- Non-2xx answers over every run: {non_2xx}.")
    notes.append(
        f"- wrk -t1 -c{args.connections} -d{args.duration}s on core {bench.LOAD_CORE}, through nginx "
        f"(docs/scaling-out/nginx.conf) to `eventdouble serve --workers 1` processes; warm-up {args.warmup} s "
        f"per scenario, median of {args.repeats} runs. CPU/req from /proc: the mock processes, nginx's "
        "processes, and every PostgreSQL process of the machine (the backends, the WAL writer, the checkpointer)."
    )
    result = f"Machine: {bench.machine_description()}\n\n{table(results)}\n" + "\n".join(notes) + "\n"
    args.output.write_text(result)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
