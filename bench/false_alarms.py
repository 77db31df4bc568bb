"""Run the conformance kit against the unmodified mock many times, each with another seed: it must never fail.

Issue 31: "no false alarm, ever". Not part of CI: 200 runs of the whole kit take some 25 minutes.

    .venv/bin/python bench/false_alarms.py --runs 200              # the whole kit, as conform --against-mock
    .venv/bin/python bench/false_alarms.py --runs 200 --workers 1  # the same, one check after the other
    .venv/bin/python bench/false_alarms.py --runs 200 --schema-only --max-examples 25

Each run gets a fresh in-process mock, provisioned as ``conform --against-mock`` does. Prints one
line per run and, for every failure, the check, its detail and the reproduction; exits 1 if any
run failed.
"""

from __future__ import annotations

import argparse
import sys
import time

from conformance import run
from conformance.mock_target import provision
from mockserver import MockServer

SCHEMA_CHECKS = ["kosmos.schema_conformance", "tenduke.schema_conformance"]


def main(argv: list[str] | None = None) -> int:
    """Run the kit ``--runs`` times against fresh mocks; 1 if any run failed or errored."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=200, help="how many runs (default: %(default)s)")
    parser.add_argument("--first-seed", type=int, default=1, help="the seed of the first run (default: %(default)s)")
    parser.add_argument("--max-examples", type=int, default=10, help="the schema phase's examples per operation")
    parser.add_argument("--workers", type=int, default=4, help="as `conform --workers` (default: %(default)s)")
    parser.add_argument("--schema-only", action="store_true", help="run only the schema phase's two checks")
    args = parser.parse_args(argv)
    names = SCHEMA_CHECKS if args.schema_only else None
    bad = 0
    started = time.monotonic()
    for seed in range(args.first_seed, args.first_seed + args.runs):
        with MockServer() as server:
            report = run(
                provision(server.url), names=names, max_examples=args.max_examples, seed=seed, workers=args.workers
            )
        wrong = [r for r in report.results if r.status in ("failed", "error")]
        bad += bool(wrong)
        print(f"seed {seed}: {len(report.results) - len(wrong)} passed, {len(wrong)} failed or errored", flush=True)
        for result in wrong:
            print(f"  {result.name} {result.status}: {result.detail}\n  reproduce: {result.reproduction}", flush=True)
    minutes = (time.monotonic() - started) / 60
    print(f"{args.runs} runs in {minutes:.1f} min: {bad} with a failure (seeds {args.first_seed} to {seed})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
