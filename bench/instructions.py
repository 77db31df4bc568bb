"""Instructions the app executes per request, counted by valgrind's callgrind: no server, no network.

    .venv/bin/python bench/instructions.py                     # every scenario, 500 requests each
    .venv/bin/python bench/instructions.py put --requests 1000

CPU time on a shared machine moves by 10 % from one run to the next, more than most single changes
to the hot path save; a count of instructions does not (two runs agree within about 0.5 %). The
script runs itself under ``valgrind --tool=callgrind`` with counting off, builds the app and its
requests (bench/app_cpu.py), answers 200 requests to warm up, then counts only while it answers
the measured ones. To compare two commits, run it in a worktree of each. Needs Debian's valgrind.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import app_cpu

WARM_UP = 200
UNDER_CALLGRIND = "EVENTDOUBLE_UNDER_CALLGRIND"
"""Set in the environment of the copy of this script that valgrind runs."""


def _counting(on: bool) -> None:
    """Switch callgrind's counting for this process, and wait until it has taken effect."""
    switch = ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())]
    subprocess.run(switch, capture_output=True, check=True)
    time.sleep(0.5)  # asleep, nothing is executed while callgrind picks the switch up


def _answer_counted(scenario: str, count: int) -> int:
    """Answer the requests of ``scenario`` with counting on (this runs under valgrind); how many.

    ``count`` is what bench/app_cpu.py's makers take: for ``put100``, one request per 20.
    """
    with tempfile.TemporaryDirectory() as tmp:
        app, makers = app_cpu.seeded_app(tmp)
        warm_up, measured = ([app_cpu.environ_of(r) for r in makers[scenario](n)] for n in (WARM_UP, count))
        for environ in warm_up:
            b"".join(app(environ, lambda *_: None))
        _counting(True)
        for environ in measured:
            b"".join(app(environ, lambda *_: None))
        _counting(False)
    return len(measured)


def count_instructions(scenario: str, count: int) -> tuple[int, int]:
    """Instructions executed answering the requests of ``scenario`` under valgrind, and how many requests."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
             sys.executable, __file__, scenario, "--requests", str(count)],
            env={**os.environ, UNDER_CALLGRIND: "1"}, capture_output=True, check=True, text=True,
        )  # fmt: skip
        totals = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
        if totals is None:
            raise SystemExit(f"callgrind wrote no totals for {scenario}")
        return int(totals.group(1)), int(run.stdout.split()[-1])


def main() -> int:
    """Print the app's instructions per request for each scenario."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", default=list(app_cpu.SCENARIOS))
    parser.add_argument("--requests", type=int, default=500, help="requests counted (default: %(default)s)")
    args = parser.parse_args()
    if os.environ.get(UNDER_CALLGRIND):
        print(_answer_counted(args.scenarios[0], args.requests))
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    for scenario in args.scenarios:
        instructions, requests = count_instructions(scenario, args.requests)
        print(f"{scenario:8} {instructions / requests / 1000:9,.0f} k instructions/request ({requests} requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
