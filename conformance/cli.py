"""``eventdouble conform``: run the kit against a URL with a credentials file, or against an in-process mock."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # the kit (schemathesis, hypothesis) is imported only when `conform` runs
    from conformance.core import CheckResult, Target
    from conformance.report import Report

__all__ = ["add_conform_command"]

EXIT_FAILED = 1
EXIT_MISCONFIGURED = 2


class Progress:
    """Prints each check's result as it finishes; on a terminal, also a status line while it runs."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()

    def __call__(self, position: int, total: int, result: CheckResult) -> None:
        clear = "\r\033[K" if self.tty else ""
        detail = f"  {result.detail}" if result.status != "passed" else ""
        line = f"[{position:>3}/{total}] {result.status.upper():7} {result.code:15} {result.name}{detail}"
        self.stream.write(f"{clear}{line}\n")
        if self.tty and position < total:
            self.stream.write(f"[{position:>3}/{total}] running...")
        self.stream.flush()


def _scope(args: argparse.Namespace) -> dict[str, str]:
    """The tenant and community given on the command line, for provisioning a mock."""
    return {name: value for name in ("tenant", "community") if (value := getattr(args, name))}


def _target(args: argparse.Namespace) -> Target:
    from conformance.core import ConformanceError
    from conformance.credentials import load_credentials
    from conformance.mock_target import provision

    if args.provision_mock:
        target = provision(args.target, expiring_in=args.expiring_in, admin_token=args.admin_token, **_scope(args))
    elif args.credentials:
        target = load_credentials(args.credentials, args.target)
        if target.kosmos is not None and (args.tenant or args.community):
            target.kosmos = dataclasses.replace(
                target.kosmos,
                tenant=args.tenant or target.kosmos.tenant,
                community=args.community or target.kosmos.community,
            )
    else:
        raise ConformanceError("give --credentials FILE (or --provision-mock for an eventdouble mock)")
    target.allow_destructive = args.allow_destructive
    return target


def _conform(args: argparse.Namespace) -> int:
    from conformance.core import CHECKS, ConformanceError
    from conformance.runner import run

    if args.list:
        for name, registered in sorted(CHECKS.items(), key=lambda item: item[1].code):
            needs = f"  [needs {', '.join(registered.needs)}]" if registered.needs else ""
            print(
                f"{registered.code:15} {registered.severity:11} {name:42} {registered.family:14} "
                f"{registered.description}{needs}"
            )
        return 0
    if args.explain:
        return _explain(args.explain)
    if args.rules_markdown:
        print(rules_markdown(), end="")
        return 0
    apis = ["kosmos", "tenduke"] if args.api == "all" else [args.api]
    options = {
        "max_examples": args.max_examples,
        "seed": args.seed,
        "progress": None if args.quiet else Progress(),
        "workers": args.workers or (4 if args.against_mock else 1),
    }
    try:
        gate = _gate(args)  # a bad gate option stops the run before it starts
        if args.against_mock:
            from conformance.mock_target import provision
            from mockserver import MockServer

            with MockServer() as server:
                report = run(provision(server.url, **_scope(args)), apis, args.check, **options)
        else:
            if not args.target:
                raise ConformanceError("give --target URL, or --against-mock")
            target = _target(args)
            if args.write_credentials:
                from conformance.credentials import dump_credentials

                print(f"wrote {dump_credentials(target, args.write_credentials)}")
                return 0
            if args.api == "all":  # the APIs the credentials cover
                apis = [api for api in apis if getattr(target, api) is not None] or apis
            report = run(target, apis, args.check, **options)
    except ConformanceError as exc:
        print(f"eventdouble conform: {exc}", file=sys.stderr)
        return EXIT_MISCONFIGURED
    if args.baseline_update:
        from conformance.gates import write_baseline

        accepted = write_baseline(args.baseline, report, gate.baseline)
        gate = dataclasses.replace(gate, baseline=accepted)
        print(f"wrote {args.baseline}: {len(accepted)} known failure(s)")
    reasons = gate.reasons(report)
    _publish(report, args.report_dir, reasons, gate)
    return EXIT_FAILED if reasons else 0


def _gate(args: argparse.Namespace) -> Any:
    """The CI gate the options ask for; ConformanceError for a value it cannot use."""
    from conformance.core import CHECKS, SEVERITIES, ConformanceError
    from conformance.gates import Gate, load_baseline

    fail_on = frozenset(part.strip() for part in (args.fail_on or "").split(",") if part.strip())
    known = set(SEVERITIES) | {c.family for c in CHECKS.values()}
    if unknown := sorted(fail_on - known):
        raise ConformanceError(
            f"--fail-on {', '.join(unknown)}: not a severity or rule family ({', '.join(sorted(known))})"
        )
    if args.baseline_update and not args.baseline:
        raise ConformanceError("--baseline-update needs --baseline FILE")
    if args.min_score is not None and not 0 <= args.min_score <= 100:
        raise ConformanceError("--min-score is a percentage, 0 to 100")
    baseline = {}
    if args.baseline and (not args.baseline_update or Path(args.baseline).exists()):
        baseline = load_baseline(args.baseline)
    return Gate(fail_on, args.min_score, baseline)


SOURCE_NAMES = {
    "seed": "the vendor's page (the seed)",
    "vendor": "the vendor's published clients and collections",
    "rfc": "an RFC the API stands on",
    "choice": "a choice of eventdouble's (the vendor publishes no rule)",
}


def _find(key: str) -> Any:
    from conformance.core import CHECKS

    wanted = key.strip()
    return next((c for c in CHECKS.values() if wanted.upper() == c.code or wanted == c.name), None)


def _explain(key: str) -> int:
    """Print the rule behind a check, by its code or name; 2 if there is none."""
    registered = _find(key)
    if registered is None:
        print(f"eventdouble conform: no check has the code or name {key!r}; `--list` shows them", file=sys.stderr)
        return EXIT_MISCONFIGURED
    api = {"kosmos": "1Kosmos Events API", "tenduke": "10Duke Event Data API"}[registered.api]
    lines = [
        f"{registered.code}  {registered.name}",
        f"  api          {api}",
        f"  severity     {registered.severity}",
        f"  family       {registered.family}",
        f"  rule         {registered.description}",
        "               (what the check sends, and what a passing server answers)",
        f"  source       {SOURCE_NAMES[registered.source]}",
        f"  evidence     {registered.evidence}",
        f"  operations   {', '.join(registered.operations) or '-'}",
        f"  needs        {', '.join(registered.needs) or 'nothing beyond the target'}",
    ]
    if registered.destructive:
        lines.append("  destructive  changes the server for every user: runs only with --allow-destructive")
    print("\n".join(lines))
    return 0


def rules_markdown() -> str:
    """The table of every check's code, severity, source and rule (docs/rules.md is this)."""
    from conformance.core import CHECKS

    rows = [
        "# The conformance kit's rules",
        "",
        "Made by `eventdouble conform --rules-markdown` from `conformance/rules.yaml`; a code never changes",
        "meaning and is never reused. `eventdouble conform --explain CODE` prints one rule with its evidence.",
        "Severity: security (the wrong caller gets in, or a write loses its integrity), correctness (the",
        "wrong answer or the wrong thing stored), format (the answer's shape).",
        "",
        "| code | check | severity | source | rule |",
        "|---|---|---|---|---|",
    ]
    for registered in sorted(CHECKS.values(), key=lambda c: c.code):
        rule = registered.description.replace("|", "\\|")
        rows.append(
            f"| {registered.code} | `{registered.name}` | {registered.severity} | {registered.source} | {rule} |"
        )
    return "\n".join(rows) + "\n"


def _publish(report: Report, report_dir: str | None, reasons: list[str], gate: Any) -> None:
    print()
    print(report.table())
    if report_dir:
        for path in report.write(report_dir):
            print(f"wrote {path}")
    accepted = [r for r in report.failed if r.code in gate.baseline or (gate.fail_on and not reasons)]
    if reasons:
        print("\nthe run fails because:")
        print("\n".join(f"  {line}" for line in reasons))
        print(f"\nVERDICT: FAILED ({len(reasons)} reason(s))")
    elif report.failed:
        print(f"\nVERDICT: PASSED ({len(accepted)} failure(s) accepted by --baseline or --fail-on)")
    else:
        print("\nVERDICT: PASSED")


def add_conform_command(commands: Any) -> None:
    """Add ``conform`` to the ``eventdouble`` sub-command parser."""
    parser = commands.add_parser(
        "conform",
        help="test a server against the specs and the security rules",
        description=(
            "Run the conformance kit against any server: every rule a client can observe, each with a "
            "probe that must be refused and one that must be accepted, read back where something is "
            "stored. Credentials come from a YAML file (see the README, 'Conformance'); a check whose "
            "credentials are missing is SKIPPED and names the key to add. Exit status: 0 all passed, "
            "1 a check failed, 2 the kit could not run (bad options, unreachable target)."
        ),
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--target", metavar="URL", help="server root, e.g. https://events.example.com")
    where.add_argument("--against-mock", action="store_true", help="start an in-process mock, provision it, test it")
    parser.add_argument("--credentials", metavar="FILE", help="YAML credentials file for --target")
    parser.add_argument(
        "--provision-mock",
        action="store_true",
        help="--target is an eventdouble mock: create every credential through its admin API",
    )
    parser.add_argument(
        "--admin-token",
        metavar="TOKEN",
        default=os.environ.get("EVENTDOUBLE_ADMIN_TOKEN"),
        help="with --provision-mock: the mock's admin token, if it has one (eventdouble serve prints it on a "
        "non-loopback address; default: EVENTDOUBLE_ADMIN_TOKEN)",
    )
    parser.add_argument(
        "--write-credentials",
        metavar="DIR",
        help="with --provision-mock: write DIR/credentials.yaml (and key files) and exit without running checks",
    )
    parser.add_argument(
        "--expiring-in",
        type=float,
        metavar="SECONDS",
        help="with --write-credentials: include a license expiring this many seconds from now",
    )
    parser.add_argument(
        "--allow-destructive",
        action="store_true",
        help="also run checks that change the server for every user (the service-key reset)",
    )
    parser.add_argument(
        "--api",
        choices=["kosmos", "tenduke", "all"],
        default="all",
        help="the API to test: kosmos (1Kosmos Events), tenduke (10Duke Event Data) or all (default: each "
        "one the credentials file has a section for; with --against-mock, both)",
    )
    parser.add_argument(
        "--tenant",
        help="1Kosmos tenant id the checks write to and query (default: the credentials file's kosmos.tenant; "
        "with --provision-mock or --against-mock: conformance)",
    )
    parser.add_argument(
        "--community",
        help="1Kosmos community id of --tenant (default: the credentials file's kosmos.community; with "
        "--provision-mock or --against-mock: main)",
    )
    parser.add_argument("--check", action="append", metavar="NAME", help="run only this check (repeatable)")
    parser.add_argument(
        "--list", action="store_true", help="list the checks: code, severity, name, rule family, needs; and exit"
    )
    parser.add_argument(
        "--explain",
        metavar="CODE",
        help="print the rule behind a check (its code, e.g. KOS-RID-005, or its name): where it comes from, "
        "with the evidence, the probe it sends and what a passing server answers; and exit",
    )
    parser.add_argument("--rules-markdown", action="store_true", help="print the table of every rule (docs/rules.md)")
    parser.add_argument(
        "--fail-on",
        metavar="WHAT[,WHAT]",
        help="fail only on failures of these severities (security, correctness, format) or rule families "
        "(e.g. 'request ids'); default: every failure fails the run",
    )
    parser.add_argument(
        "--min-score", type=float, metavar="PERCENT", help="also fail when fewer of the checks that ran passed"
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="accept the known failures listed in FILE ({accepted: {CODE: reason}}): a failure not listed fails the "
        "run, and so does a listed code that now passes, until it is removed",
    )
    parser.add_argument(
        "--baseline-update", action="store_true", help="write this run's failures to --baseline FILE (reasons kept)"
    )
    parser.add_argument("--report-dir", metavar="DIR", help="write junit.xml, report.md and report.html here")
    parser.add_argument(
        "--max-examples",
        type=int,
        default=10,
        help="examples per operation and mode in the schema phase (default: %(default)s; more for a deeper, "
        "slower run, e.g. 100 nightly)",
    )
    parser.add_argument("--seed", type=int, help="random seed of the schema phase (default: a new one each run)")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run independent checks at once: the schema phase and the other checks in processes of their own, "
        "on N threads there; 1 runs them one after the other, with the same verdicts (default: 4 with "
        "--against-mock, 1 with --target, so a server's rate limits see one request at a time)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-check lines while running; only the report")
    parser.set_defaults(run=_conform)
