"""Turn a cosmic-ray session into bench/mutation/report.md: the kill rate and every survivor with its reason.

    python bench/mutation/triage.py [SESSION [REPORT]]   (default bench/mutation/.work/session.sqlite, report.md)

A survivor is explained in one of three ways:

* automatically, when the mutated code is a type annotation (the modules use
  ``from __future__ import annotations``, so annotations are never evaluated: an equivalent mutant);
* by a line of ``triage.toml`` keyed ``"<module>:<line>"`` or ``"<module>:<line>:<operator>"``, with a
  reason starting with one of the categories below;
* not at all: then it is listed as UNTRIAGED, to be killed by a new check or explained.

Categories that do not count against the kit: ``equivalent``, ``message text``, ``performance``,
``not observable over HTTP``. Anything else a mutant survives counts as a miss.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from collections import Counter
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
ANNOTATION = "equivalent: a type annotation, never evaluated"
NOT_BEHAVIOUR = ("equivalent", "message text", "performance", "not observable over HTTP")


@cache
def _annotation_spans(module: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    spans = []
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            annotations.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            annotations.append(node.returns)
        for a in annotations:
            spans.append(((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0)))
    return spans


def in_annotation(module: str, start: list[int]) -> bool:
    position = (start[0], start[1])
    return any(begin <= position < end for begin, end in _annotation_spans(module))


@cache
def _reasons() -> dict[str, str]:
    triage_file = HERE / "triage.toml"
    return tomllib.loads(triage_file.read_text(encoding="utf-8")) if triage_file.exists() else {}


def explanation(module: str, start: list[int], operator: str) -> str | None:
    """Why a surviving mutant does not count against the kit (or is a known miss), or None if untriaged."""
    key = f"{module}:{start[0]}"
    reason = _reasons().get(f"{key}:{operator}") or _reasons().get(key)
    if reason is None and in_annotation(module, start):
        reason = ANNOTATION
    return reason


def _changed_line(diff: str) -> str:
    added = (line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    return next(added, "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main() -> int:
    """Write the report and print the kill rate."""
    session = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / ".work" / "session.sqlite"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "report.md"
    dump = subprocess.run([sys.executable, "-m", "cosmic_ray.cli", "dump", str(session)], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip
    outcomes: Counter[str] = Counter()
    survivors = []
    for line in dump.splitlines():
        item, result = json.loads(line)
        if not result:
            outcomes["not run yet"] += 1
            continue
        mutation = item["mutations"][0]
        module, start, operator = mutation["module_path"], mutation["start_pos"], mutation["operator_name"]
        if result["worker_outcome"] == "skipped":  # skip_annotations.py
            outcomes["survived, explained"] += 1
            survivors.append(("explained", f"{module}:{start[0]}", operator.removeprefix("core/"), "", ANNOTATION))
            continue
        if result["test_outcome"] == "incompetent":
            outcomes["incompetent (cosmic-ray could not apply it)"] += 1
            continue
        if result["test_outcome"] == "killed" or result["worker_outcome"] in ("timeout", "abnormal"):
            outcomes["killed"] += 1
            continue
        key = f"{module}:{start[0]}"
        reason = explanation(module, start, operator)
        category = "untriaged" if reason is None else "explained" if reason.startswith(NOT_BEHAVIOUR) else "missed"
        outcomes[f"survived, {category}"] += 1
        survivors.append((category, key, operator.removeprefix("core/"), _changed_line(result.get("diff", "")), reason))
    behaviour = outcomes["killed"] + outcomes["survived, missed"] + outcomes["survived, untriaged"]
    rate = outcomes["killed"] / behaviour if behaviour else 0.0
    admin = sum(1 for _, _, _, _, reason in survivors if reason and "admin API" in reason)
    strict = outcomes["killed"] / (behaviour + admin) if behaviour + admin else 0.0
    lines = [
        "# Mutation testing of the mock, judged by the conformance kit",
        "",
        "Made by `bash bench/mutation/run.sh` then `python bench/mutation/triage.py` (cosmic-ray; the test command",
        "is `bench/mutation/kit_on_mock.py`: the kit's named checks against an in-process mock of the mutated tree).",
        "",
        f"**Kill rate of behaviour-changing mutants: {rate:.1%}** ({outcomes['killed']} killed of {behaviour};"
        " survivors that are equivalent, change only a message, only performance, or nothing observable over"
        " HTTP are left out of the denominator).",
        "",
        f"Counting the {admin} survivors that only the admin API can see as misses too: {strict:.1%}.",
        "",
        "| outcome | mutants |",
        "|---|---:|",
        *[f"| {name} | {count} |" for name, count in sorted(outcomes.items())],
        "",
        "## Survivors",
        "",
        "| triage | where | operator | mutated line | reason |",
        "|---|---|---|---|---|",
        *[
            f"| {category} | `{key}` | {op} | `{_cell(changed)}` | {reason or 'UNTRIAGED'} |"
            for category, key, op, changed, reason in sorted(survivors)
        ],
    ]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"kill rate {rate:.1%}: {dict(outcomes)}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
