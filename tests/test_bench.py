"""The benchmark reads wrk's figures from the right lines (issue 13 item 4)."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("bench_run", Path(__file__).resolve().parent.parent / "bench" / "run.py")
assert _SPEC is not None and _SPEC.loader is not None
bench_run = sys.modules["bench_run"] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_run)  # bench/ is not a package
parse_wrk = bench_run.parse_wrk

WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:8080/events/healthz
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.71ms    1.02ms  21.37ms   85.50%
    Req/Sec     1.70k    92.61     1.86k    79.00%
  Latency Distribution
     50%    4.52ms
     75%    4.98ms
     90%    5.71ms
     99%    8.94ms
  16923 requests in 10.00s, 3.13MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   1691.98
Transfer/sec:    320.27KB
"""


def test_percentiles_come_from_the_latency_distribution_not_the_thread_stats() -> None:
    figures = parse_wrk(WRK_OUTPUT)
    assert figures.rps == 1691.98
    assert (figures.p50_ms, figures.p99_ms) == (4.52, 8.94)
    assert figures.non_2xx == 3 and figures.requests == 16923


def test_microsecond_latencies() -> None:
    out = WRK_OUTPUT.replace("4.52ms", "812.00us").replace("8.94ms", "1.20s")
    figures = parse_wrk(out)
    assert (figures.p50_ms, figures.p99_ms) == (0.812, 1200.0)


BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize(
    "script", ["run.py", "servers.py", "floor.py", "scaling.py", "driver_cost.py", "false_alarms.py"]
)
def test_every_benchmark_script_starts_and_explains_itself(script: str) -> None:
    """Each script starts (its imports resolve) and explains its options."""
    done = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_the_scaling_benchmark_puts_any_number_of_processes_behind_the_recipes_nginx(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        scaling = importlib.import_module("scaling")
    finally:
        sys.path.remove(str(BENCH))
    conf = scaling.nginx_conf(tmp_path, 9000, [9001, 9002]).read_text()
    assert "listen 127.0.0.1:9000;" in conf
    upstream = [line.strip() for line in conf.splitlines() if line.strip().startswith("server 127.0.0.1")]
    assert upstream == [
        "server 127.0.0.1:9001 max_fails=1 fail_timeout=5s;",
        "server 127.0.0.1:9002 max_fails=1 fail_timeout=5s;",
    ]
