"""Mutants cosmic-ray cannot make, judged by the conformance kit: edits of the specs and of the settings' defaults.

    .venv/bin/python bench/mutation/outside.py                 # every mutant; writes bench/mutation/outside-report.md
    .venv/bin/python bench/mutation/outside.py --list          # the mutants, not run
    .venv/bin/python bench/mutation/outside.py --only spec:kosmos-events:/components/parameters/TenantId

The mock reads its specs at run time (they are the single source of truth), so an edit of a spec is
an edit of the mock's behaviour. The mutants are made by rule, not chosen: for every request-side
keyword of the two API specs (bounds +1 and -1, an enum losing its last value, each required name
dropped, a pattern, a format, ``additionalProperties: false``, an operation's security and the
mock's ``x-`` extensions removed), and for every setting that shapes what a client sees (numbers +1
and -1, switches flipped). Response schemas are not mutated: the mock does not read them.

Each mutant runs in its own mock process (``outside_mock.py``: the real mock with the mutated spec
directory or setting); the kit, in this process with the unmodified specs, provisions it and runs
as ``conform --against-mock`` does. A failed check kills the mutant. Survivors are explained by
``outside-triage.toml`` (same categories as ``triage.toml``) or listed as UNTRIAGED.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance import run
from conformance.mock_target import provision
from mockserver.settings import Settings

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SPECS = ROOT / "openapi"
API_SPECS = ("kosmos-events", "tenduke-events")
NOT_BEHAVIOUR = ("equivalent", "message text", "performance", "not observable over HTTP", "not a rule")

BOUNDS = ("maxLength", "minLength", "maximum", "minimum", "maxItems", "minItems", "maxProperties", "minProperties")
REMOVED = ("pattern", "format")
MOCK_EXTENSIONS = ("x-refusal-message", "x-null-means-absent", "x-metrics")

SETTINGS_MUTANTS: dict[str, list[Any]] = {
    "ALLOWED_TIME_SPAN": [59, 61],
    "REPLAY_PROTECTION": [False],
    "REPLAY_MEMORY": [0],
    "EC_CURVE_NAME": ["prime256v1"],
    "QUERY_HISTORY_DAYS": [89, 91],
    "MAX_CONTENT_LENGTH": [1024 * 1024 - 1, 1024 * 1024 + 1],
    "MAX_PAGE_BYTES": [8 * 1024 * 1024 - 1, 8 * 1024 * 1024 + 1],
    "MAX_EVENTS_PER_PUT": [999, 1001],
    "MAX_HEADER_LENGTH": [8191, 8193],
    "MAX_HEADERS_SIZE": [32767, 32769],
    "RATE_LIMIT": [100],
    "CORS_ORIGINS": [["*"]],
}
"""Each setting a client of the two APIs can observe, and its mutated defaults. Left out: the
storage (DATABASE, SQLITE_SYNCHRONOUS), the admin API (ADMIN_*, JOURNAL_SIZE), VERSION, COMMIT, CLOCK."""


@dataclass
class Mutant:
    """One edit of the specs or the settings."""

    key: str
    description: str
    specs: dict[str, Any] = field(default_factory=dict)
    """Mutated spec documents by name (the others unchanged)."""
    config: dict[str, Any] = field(default_factory=dict)


def _walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("responses", "example", "examples"):
                continue
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, str(index)))


def _at(document: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


def _edits(node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(what, edit)`` for one schema-like node; ``edit`` changes a copy of it in place."""
    for keyword in BOUNDS:
        value = node.get(keyword)
        if isinstance(value, int) and not isinstance(value, bool):
            for delta in (1, -1):
                if value + delta >= 0:
                    yield (
                        f"{keyword} {value} -> {value + delta}",
                        lambda n, k=keyword, v=value + delta: n.update({k: v}),
                    )
    if isinstance(node.get("enum"), list) and len(node["enum"]) > 1:
        yield f"enum loses {node['enum'][-1]!r}", lambda n: n.update(enum=n["enum"][:-1])
    if isinstance(node.get("required"), list):
        for name in node["required"]:
            yield f"required loses {name!r}", lambda n, x=name: n.update(required=[r for r in n["required"] if r != x])
    if node.get("required") is True and "in" in node:
        yield "required: true -> false", lambda n: n.update(required=False)
    for keyword in (*REMOVED, *MOCK_EXTENSIONS):
        if keyword in node:
            yield f"{keyword} removed", lambda n, k=keyword: n.pop(k)
    if node.get("additionalProperties") is False:
        yield "additionalProperties: false removed", lambda n: n.pop("additionalProperties")
    if "security" in node and "operationId" in node:
        yield "security removed", lambda n: n.update(security=[])


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if (key == "$ref" and isinstance(value, str)) or (key == "x-jws-payload-schema" and isinstance(value, str)):
                yield value
            elif key not in ("responses", "example", "examples"):
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def request_side(document: dict[str, Any]) -> set[str]:
    """The ``#/components/...`` names a request can reach (responses' schemas are not read by the mock)."""
    seen: set[str] = set()
    pending = list(_refs(document["paths"]))
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        pending.extend(_refs(_at(document, tuple(ref.removeprefix("#/").split("/")))))
    return seen


def _read_by_requests(path: tuple[str, ...], reachable: set[str]) -> bool:
    if path[:1] != ("components",) or len(path) < 3:
        return True
    return "#/" + "/".join(path[:3]) in reachable


def spec_mutants() -> Iterator[Mutant]:
    """Every rule-made edit of the two API specs' request side."""
    for name in API_SPECS:
        original = yaml.safe_load((SPECS / f"{name}.yaml").read_text(encoding="utf-8"))
        reachable = request_side(original)
        for path, node in _walk(original):
            if not isinstance(node, dict) or not _read_by_requests(path, reachable):
                continue
            for what, edit in _edits(node):
                document = copy.deepcopy(original)
                edit(_at(document, path))
                pointer = "/" + "/".join(path)
                yield Mutant(f"spec:{name}:{pointer}:{what}", f"{name}.yaml {pointer}: {what}", specs={name: document})


def settings_mutants() -> Iterator[Mutant]:
    """Every observable setting's default, changed."""
    for name, values in SETTINGS_MUTANTS.items():
        default = Settings.model_fields[name].default
        for value in values:
            yield Mutant(
                f"settings:{name}={json.dumps(value)}", f"{name} default {default!r} -> {value!r}", config={name: value}
            )


def all_mutants() -> list[Mutant]:
    """The spec mutants, then the settings mutants."""
    return [*spec_mutants(), *settings_mutants()]


def _serve(mutant: Mutant, work: Path) -> subprocess.Popen[str]:
    """Start the mock of ``mutant``; its URL is the first line it prints."""
    spec_dir = work / "openapi"
    shutil.rmtree(spec_dir, ignore_errors=True)
    shutil.copytree(SPECS, spec_dir)
    for name, document in mutant.specs.items():
        (spec_dir / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    command = [sys.executable, str(HERE / "outside_mock.py"), "--spec-dir", str(spec_dir)]
    command += ["--config", json.dumps(mutant.config)]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def judge(mutant: Mutant, work: Path, seed: int) -> tuple[str, str]:
    """``("killed", codes)``, ``("survived", "")`` or ``("killed", "mock did not start: ...")``."""
    process = _serve(mutant, work)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url:
            return "killed", "the mock did not start (the kit cannot even provision it)"
        try:
            report = run(provision(url), workers=4, seed=seed)
        except Exception as exc:  # noqa: BLE001 - a mutant that stops the kit running is killed
            return "killed", f"the kit could not run: {type(exc).__name__}: {str(exc)[:200]}"
        wrong = [r for r in report.results if r.status in ("failed", "error")]
        if wrong:
            return "killed", ", ".join(r.code for r in wrong)
        return "survived", ""
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _reason(key: str, triage: dict[str, str]) -> str:
    """The triage reason of the longest key prefix that matches ``key``; empty if none."""
    matches = [k for k in triage if key.startswith(k)]
    return triage[max(matches, key=len)] if matches else ""


def report(outcomes: list[tuple[Mutant, str, str]]) -> str:
    """bench/mutation/outside-report.md."""
    triage = tomllib.loads((HERE / "outside-triage.toml").read_text(encoding="utf-8"))
    killed = [o for o in outcomes if o[1] == "killed"]
    survivors = [(m, _reason(m.key, triage)) for m, outcome, _ in outcomes if outcome == "survived"]
    excused = [s for s in survivors if s[1].startswith(NOT_BEHAVIOUR)]
    missed = [s for s in survivors if s not in excused]
    changing = len(killed) + len(missed)
    lines = [
        "# Mutants of the specs and the settings, judged by the conformance kit",
        "",
        "Made by `.venv/bin/python bench/mutation/outside.py` (the mutants are made by rule; see its docstring).",
        f"{len(outcomes)} mutants (each outcome kept in outside-results.json).",
        "",
        f"**Kill rate of behaviour-changing mutants: {100 * len(killed) / max(changing, 1):.1f}%** "
        f"({len(killed)} killed of {changing}; {len(excused)} survivors that change nothing a rule covers "
        "are left out, each with its reason below).",
        "",
        "| kind | mutants | killed | survived, explained | survived, missed |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in ("spec", "settings"):
        mine = [o for o in outcomes if o[0].key.startswith(kind)]
        mine_excused = [s for s in excused if s[0].key.startswith(kind)]
        mine_missed = [s for s in missed if s[0].key.startswith(kind)]
        mine_killed = sum(o[1] == "killed" for o in mine)
        lines.append(f"| {kind} | {len(mine)} | {mine_killed} | {len(mine_excused)} | {len(mine_missed)} |")
    lines += ["", "## Survivors", "", "| mutant | triage |", "|---|---|"]
    for mutant, reason in survivors:
        lines.append(f"| `{mutant.description}` | {reason or 'UNTRIAGED'} |")
    lines += ["", "## Killed", "", "| mutant | killed by |", "|---|---|"]
    for mutant, _, by in killed:
        lines.append(f"| `{mutant.description}` | {by} |")
    return "\n".join(lines) + "\n"


RESULTS = HERE / "outside-results.json"
"""Each mutant's last outcome by key (``[outcome, killed by]``): a run with ``--only`` updates it."""


def _load_results() -> dict[str, list[str]]:
    return json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}


def _from_log(log: Path) -> dict[str, list[str]]:
    """Outcomes from the lines a run printed (``[i/n] outcome description  killed by``)."""
    by_description = {m.description: m.key for m in all_mutants()}
    found = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        head, _, rest = line.partition("] ")
        if not head.startswith("[") or not rest.startswith(("killed", "survived")):
            continue
        outcome, _, rest = rest.partition(" ")
        description, _, by = rest.strip().partition("  ")
        if description in by_description:
            found[by_description[description]] = [outcome, by.strip()]
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the mutants (or list them); keep each outcome in outside-results.json; write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--only", action="append", help="run only mutants whose key starts with this (repeatable)")
    parser.add_argument("--seed", type=int, default=31, help="the schema phase's seed (default: %(default)s)")
    parser.add_argument("--from-log", type=Path, help="take the outcomes a run printed, then write the report")
    parser.add_argument("--out", default=str(HERE / "outside-report.md"), help="the report (default: %(default)s)")
    args = parser.parse_args(argv)
    mutants = [m for m in all_mutants() if not args.only or any(m.key.startswith(o) for o in args.only)]
    if args.list:
        for mutant in mutants:
            print(mutant.key)
        print(f"{len(mutants)} mutants")
        return 0
    results = _load_results()
    if args.from_log:
        results.update(_from_log(args.from_log))
    else:
        with tempfile.TemporaryDirectory() as work:
            baseline = judge(Mutant("unmutated", "the unmodified specs and settings"), Path(work), args.seed)
            if baseline[0] != "survived":
                print(f"the kit fails the unmutated mock: {baseline[1]}", file=sys.stderr)
                return 2
            for index, mutant in enumerate(mutants, 1):
                outcome, by = judge(mutant, Path(work), args.seed)
                results[mutant.key] = [outcome, by]
                RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
                print(f"[{index}/{len(mutants)}] {outcome:8} {mutant.description}  {by}", flush=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    outcomes = [(m, *results[m.key]) for m in all_mutants() if m.key in results]
    Path(args.out).write_text(report(outcomes), encoding="utf-8")  # type: ignore[arg-type]
    print(f"wrote {args.out} ({len(outcomes)} of {len(all_mutants())} mutants have an outcome)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
