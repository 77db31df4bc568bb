"""``eventdouble conform``: run the kit against a URL, or against an in-process mock."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from conformance.core import ConformanceError, KosmosTarget, Target, TenDukeTarget
from conformance.runner import Report, run

__all__ = ["add_conform_command"]

EXIT_FAILED = 1
EXIT_MISCONFIGURED = 2


def _target(args: argparse.Namespace, apis: list[str]) -> Target:
    kosmos = tenduke = None
    if "kosmos" in apis:
        if not (args.kosmos_license and args.tenant and args.community):
            raise ConformanceError("--api kosmos needs --kosmos-license, --tenant and --community")
        kosmos = KosmosTarget(
            args.kosmos_license, args.tenant, args.community, args.kosmos_scoped_license, args.kosmos_disabled_license
        )
    if "tenduke" in apis:
        if not (args.tenduke_key and args.feed):
            raise ConformanceError("--api tenduke needs --tenduke-key and --feed")
        try:
            pem = Path(args.tenduke_key).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConformanceError(f"cannot read key file {args.tenduke_key}: {exc.strerror}") from exc
        tenduke = TenDukeTarget(pem, args.feed)
    return Target(args.target, kosmos, tenduke)


def _conform(args: argparse.Namespace) -> int:
    apis = ["kosmos", "tenduke"] if args.api == "all" else [args.api]
    try:
        if args.against_mock:
            from conformance.mock_target import provision
            from mockserver import MockServer

            with MockServer(config={"FAULTS": tuple(args.mock_fault or ())}) as server:
                report = run(provision(server), apis, args.check, max_examples=args.max_examples, seed=args.seed)
        else:
            if not args.target:
                raise ConformanceError("give --target URL, or --against-mock")
            report = run(_target(args, apis), apis, args.check, max_examples=args.max_examples, seed=args.seed)
    except ConformanceError as exc:
        print(f"eventdouble conform: {exc}", file=sys.stderr)
        return EXIT_MISCONFIGURED
    _publish(report, args.report_dir)
    return 0 if report.passed else EXIT_FAILED


def _publish(report: Report, report_dir: str | None) -> None:
    print(report.table())
    if report_dir:
        for path in report.write(report_dir):
            print(f"wrote {path}")
    print("\nVERDICT:", "PASSED" if report.passed else f"FAILED ({len(report.failed)} check(s))")


def add_conform_command(commands: Any) -> None:
    """Add ``conform`` to the ``eventdouble`` sub-command parser."""
    from mockserver.faults import FAULTS

    parser = commands.add_parser(
        "conform",
        help="test a server against the specs and the security rules",
        description=(
            "Run the conformance kit against any server: named security checks (unsigned, tampered, "
            "stale, replayed, wrong license or tenant, alg none, HS256, unknown or weak keys, expired or "
            "wrong-feed tokens) and round trips. Exit status: 0 all passed, 1 a check failed, 2 the kit "
            "could not run (bad options, unreachable target)."
        ),
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--target", metavar="URL", help="server root, e.g. https://events.example.com")
    where.add_argument("--against-mock", action="store_true", help="start an in-process mock, provision it, test it")
    parser.add_argument("--api", choices=["kosmos", "tenduke", "all"], default="all")
    parser.add_argument("--check", action="append", metavar="NAME", help="run only this check (repeatable)")
    parser.add_argument("--report-dir", metavar="DIR", help="write junit.xml and report.md here")
    parser.add_argument("--max-examples", type=int, default=25, help="examples per operation in the schema phase")
    parser.add_argument("--seed", type=int, help="random seed of the schema phase")
    kosmos = parser.add_argument_group("1Kosmos credentials")
    kosmos.add_argument("--kosmos-license", metavar="KEY", help="a license valid for --tenant/--community")
    kosmos.add_argument("--tenant")
    kosmos.add_argument("--community")
    kosmos.add_argument("--kosmos-scoped-license", action="store_true", help="the license is tenant/community-level")
    kosmos.add_argument("--kosmos-disabled-license", metavar="KEY", help="a disabled license, for that check")
    tenduke = parser.add_argument_group("10Duke credentials")
    tenduke.add_argument("--tenduke-key", metavar="PEM", help="a registered client's RSA private key file")
    tenduke.add_argument("--feed", help="an event source id the kit may write to and read")
    parser.add_argument("--mock-fault", action="append", choices=sorted(FAULTS), help=argparse.SUPPRESS)
    parser.set_defaults(run=_conform)
