"""The report of a run: a table, JUnit XML, Markdown, an HTML page, SARIF 2.1, CTRF and a JSON summary.

The JSON summary's schema is ``conformance/summary-schema.json``. Besides each check's result the
report gives a score per operation (checks run, passed, failed, skipped) and a coverage line per
rule family: exercised, or skipped and for which missing credentials.
Every format carries the run's ``meta``: the kit's version, the target, the seed, the options and
the date.
"""

from __future__ import annotations

import html
import json
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.core import CHECKS, CheckResult

__all__ = ["Report"]

STATUSES = ("passed", "failed", "skipped", "error")


@dataclass
class Report:
    """The results of one run."""

    target: str
    results: list[CheckResult]
    meta: dict[str, Any] = field(default_factory=dict)
    """The kit's ``version``, the ``target``, the ``seed``, the ``options`` and the ``date`` (ISO 8601, UTC)."""

    @property
    def failed(self) -> list[CheckResult]:
        """The checks the target failed (errors included)."""
        return [r for r in self.results if r.status in ("failed", "error")]

    @property
    def passed(self) -> bool:
        """True when nothing failed."""
        return not self.failed

    @property
    def verdict(self) -> str:
        """PASSED or FAILED."""
        return "PASSED" if self.passed else "FAILED"

    def counts(self, results: list[CheckResult] | None = None) -> dict[str, int]:
        """How many checks ended in each status."""
        found = Counter(r.status for r in (self.results if results is None else results))
        return {status: found[status] for status in STATUSES}

    def by_operation(self) -> dict[str, dict[str, int]]:
        """Per ``api.operationId``: checks run, and how many passed, failed (errors included) and were skipped."""
        rows: dict[str, dict[str, int]] = {}
        for r in self.results:
            for op in r.operations or ("(none)",):
                row = rows.setdefault(f"{r.api}.{op}", {"run": 0, "passed": 0, "failed": 0, "skipped": 0})
                row["run"] += r.status != "skipped"
                row["failed" if r.status == "error" else r.status] += 1
        return dict(sorted(rows.items()))

    def by_family(self) -> dict[str, tuple[str, list[str]]]:
        """Per ``api: family``: ``exercised``, ``partly skipped`` or ``skipped``, and the skip reasons."""
        families: dict[str, list[CheckResult]] = {}
        for r in self.results:
            families.setdefault(f"{r.api}: {r.family}", []).append(r)
        coverage = {}
        for family, results in sorted(families.items()):
            skipped = [r for r in results if r.status == "skipped"]
            state = "skipped" if len(skipped) == len(results) else "partly skipped" if skipped else "exercised"
            coverage[family] = (state, sorted({f"{r.name}: {r.detail}" for r in skipped}))
        return coverage

    def run_line(self) -> str:
        """The run in one line: the kit's version, the seed, the options and the date."""
        meta = self.meta
        options = ", ".join(f"{k} {v}" for k, v in meta.get("options", {}).items() if v not in (None, [], False))
        return f"eventdouble {meta.get('version', '?')}, {meta.get('date', '?')}, seed {meta.get('seed')}, {options}"

    def summary(self) -> str:
        """One line: the counts and the target."""
        return ", ".join(f"{n} {s}" for s, n in self.counts().items()) + f" against {self.target}"

    def table(self) -> str:
        """A plain-text table, the operation scores, the family coverage, then a reproduction per failure."""
        width = max((len(r.name) for r in self.results), default=10)
        lines = [f"{'code':15} {'check'.ljust(width)}  {'result':8}  detail", "-" * (width + 56)]
        lines += [f"{r.code:15} {r.name.ljust(width)}  {r.status.upper():8}  {r.detail}" for r in self.results]
        lines += ["", "per operation: run / passed / failed / skipped"]
        lines += [
            f"  {op}: {c['run']} / {c['passed']} / {c['failed']} / {c['skipped']}"
            for op, c in self.by_operation().items()
        ]
        lines += ["", "rule families:"]
        lines += [f"  {family}: {state}" for family, (state, _) in self.by_family().items()]
        lines += ["", self.summary()]
        for r in self.failed:
            if r.reproduction:
                lines += ["", f"reproduce {r.code} {r.name}:", f"  {r.reproduction}"]
        return "\n".join(lines)

    def junit(self) -> str:
        """JUnit XML, one test case per check."""
        counts = self.counts()
        suite = ET.Element(
            "testsuite",
            name="eventdouble-conformance",
            tests=str(len(self.results)),
            failures=str(counts["failed"]),
            errors=str(counts["error"]),
            skipped=str(counts["skipped"]),
        )
        properties = ET.SubElement(suite, "properties")
        for key in ("version", "target", "seed", "date"):
            ET.SubElement(properties, "property", name=f"run {key}", value=str(self.meta.get(key)))
        ET.SubElement(properties, "property", name="run options", value=json.dumps(self.meta.get("options", {})))
        for op, c in self.by_operation().items():
            value = f"run {c['run']}, passed {c['passed']}, failed {c['failed']}, skipped {c['skipped']}"
            ET.SubElement(properties, "property", name=f"operation {op}", value=value)
        for family, (state, _) in self.by_family().items():
            ET.SubElement(properties, "property", name=f"family {family}", value=state)
        for r in self.results:
            case = ET.SubElement(
                suite, "testcase", classname=f"conformance.{r.api}.{r.family}", name=f"{r.code} {r.name}",
                time=f"{r.seconds:.3f}",
            )  # fmt: skip
            if r.status in ("failed", "error"):
                element = ET.SubElement(case, "failure" if r.status == "failed" else "error", message=r.detail)
                element.text = r.reproduction or r.detail
            elif r.status == "skipped":
                ET.SubElement(case, "skipped", message=r.detail)
        return ET.tostring(suite, encoding="unicode", xml_declaration=True)

    def markdown(self) -> str:
        """A human-readable report."""
        lines = [
            f"# Conformance report: {self.verdict}",
            "",
            f"Target: `{self.target}`",
            "",
            f"Run: {self.run_line()}",
            "",
            self.summary(),
            "",
            "## Checks",
            "",
            "| code | check | severity | result | what it checks | detail |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.results:
            lines.append(f"| {r.code} | `{r.name}` | {r.severity} | {r.status} | {r.description} | {_cell(r.detail)} |")
        lines += [
            "",
            "## Per operation",
            "",
            "| operation | run | passed | failed | skipped |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| `{op}` | {c['run']} | {c['passed']} | {c['failed']} | {c['skipped']} |"
            for op, c in self.by_operation().items()
        ]
        lines += ["", "## Rule families", "", "| family | coverage | skipped because |", "|---|---|---|"]
        lines += [f"| {f} | {state} | {_cell('; '.join(why))} |" for f, (state, why) in self.by_family().items()]
        for r in self.failed:
            if r.reproduction:
                lines += ["", f"## Reproduce {r.code} `{r.name}`", "", "```sh", r.reproduction, "```"]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        """A self-contained HTML page (no scripts, no external assets)."""
        e = html.escape
        rows = "".join(
            f'<tr class="{r.status}"><td>{e(r.code)}</td><td><code>{e(r.name)}</code></td><td>{r.status}</td>'
            f"<td>{e(r.description)}</td><td>{e(r.detail)}"
            + (f"<pre>{e(r.reproduction)}</pre>" if r.reproduction and r.status in ("failed", "error") else "")
            + "</td></tr>"
            for r in self.results
        )
        ops = "".join(
            f"<tr><td><code>{e(op)}</code></td><td>{c['run']}</td><td>{c['passed']}</td><td>{c['failed']}</td>"
            f"<td>{c['skipped']}</td></tr>"
            for op, c in self.by_operation().items()
        )
        families = "".join(
            f"<tr><td>{e(f)}</td><td>{state}</td><td>{e('; '.join(why))}</td></tr>"
            for f, (state, why) in self.by_family().items()
        )
        return (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Conformance: {self.verdict}</title>"
            f"<style>{CSS}</style></head><body><h1 class={self.verdict.lower()}>Conformance report: {self.verdict}</h1>"
            f"<p>Target: <code>{e(self.target)}</code><br>Run: {e(self.run_line())}<br>{e(self.summary())}</p>"
            f"<h2>Checks</h2><table><tr><th>code<th>check<th>result<th>what it checks<th>detail</tr>{rows}</table>"
            f"<h2>Per operation</h2><table><tr><th>operation<th>run<th>passed<th>failed<th>skipped</tr>{ops}</table>"
            f"<h2>Rule families</h2><table><tr><th>family<th>coverage<th>skipped because</tr>{families}</table>"
            "</body></html>\n"
        )

    def summary_json(self) -> dict[str, Any]:
        """The JSON summary: the run, the counts, the verdict and one entry per check (``summary-schema.json``)."""
        return {
            "schema": "https://eventdouble.dev/schemas/conformance-summary-1.json",
            "meta": self.meta,
            "verdict": self.verdict,
            "counts": self.counts(),
            "checks": [
                {
                    "code": r.code,
                    "name": r.name,
                    "api": r.api,
                    "family": r.family,
                    "severity": r.severity,
                    "status": r.status,
                    "detail": r.detail,
                    "reproduction": r.reproduction,
                    "seconds": round(r.seconds, 3),
                }
                for r in self.results
            ],
        }

    def sarif(self) -> dict[str, Any]:
        """SARIF 2.1.0: each check a rule (its code), each failure a result located in the spec it tests."""
        levels = {"security": "error", "correctness": "error", "format": "warning"}
        rules = [
            {
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.description},
                "fullDescription": {"text": CHECKS[r.name].evidence if r.name in CHECKS else r.description},
                "defaultConfiguration": {"level": levels.get(r.severity, "error")},
                "properties": {"severity": r.severity, "family": r.family, "api": r.api},
            }
            for r in self.results
        ]
        results = [
            {
                "ruleId": r.code,
                "ruleIndex": index,
                "level": levels.get(r.severity, "error"),
                "message": {"text": f"{r.name}: {r.detail}" + f"\nReproduce: {r.reproduction}" * bool(r.reproduction)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": SPEC_FILES[r.api]},
                                                    "region": {"startLine": 1}}}],
            }
            for index, r in enumerate(self.results)
            if r.status in ("failed", "error")
        ]  # fmt: skip
        run = {
            "tool": {
                "driver": {
                    "name": "eventdouble conform",
                    "version": str(self.meta.get("version", "")),
                    "informationUri": "https://pypi.org/project/eventdouble/",
                    "rules": rules,
                }
            },
            "invocations": [
                {
                    "executionSuccessful": True,
                    **({"startTimeUtc": self.meta["date"]} if "date" in self.meta else {}),
                    "properties": {
                        "target": self.target, "seed": self.meta.get("seed"), "options": self.meta.get("options", {})
                    },
                }
            ],
            "results": results,
        }  # fmt: skip
        return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}

    def ctrf(self) -> dict[str, Any]:
        """The Common Test Report Format (CTRF) document of the run."""
        statuses = {"passed": "passed", "failed": "failed", "skipped": "skipped", "error": "failed"}
        counts = Counter(statuses[r.status] for r in self.results)
        tests = [
            {
                "name": f"{r.code} {r.name}",
                "status": statuses[r.status],
                "duration": round(r.seconds * 1000),
                "suite": [f"conformance.{r.api}", r.family],
                **({"message": r.detail} if r.detail else {}),
                **({"trace": r.reproduction} if r.reproduction else {}),
                "extra": {"code": r.code, "severity": r.severity, "rawStatus": r.status},
            }
            for r in self.results
        ]
        return {
            "reportFormat": "CTRF",
            "specVersion": "0.0.0",
            "reportId": str(uuid.uuid4()),
            **({"timestamp": self.meta["date"]} if "date" in self.meta else {}),
            "generatedBy": "eventdouble conform",
            "results": {
                "tool": {"name": "eventdouble conform", "version": str(self.meta.get("version", ""))},
                "summary": {
                    "tests": len(tests), "passed": counts["passed"], "failed": counts["failed"],
                    "skipped": counts["skipped"], "pending": 0, "other": 0,
                    "start": int(self.meta.get("started_ms", 0)), "stop": int(self.meta.get("stopped_ms", 0)),
                },
                "tests": tests,
                "extra": {"meta": self.meta, "verdict": self.verdict},
            },
        }  # fmt: skip

    def write(self, directory: str | Path) -> list[Path]:
        """Write every format into ``directory``: JUnit, Markdown, HTML, SARIF, CTRF and the JSON summary."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "junit.xml": self.junit(),
            "report.md": self.markdown(),
            "report.html": self.html(),
            "report.sarif": json.dumps(self.sarif(), indent=1),
            "ctrf.json": json.dumps(self.ctrf(), indent=1),
            "summary.json": json.dumps(self.summary_json(), indent=1),
        }
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
        return [out / name for name in files]


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SPEC_FILES = {"kosmos": "openapi/kosmos-events.yaml", "tenduke": "openapi/tenduke-events.yaml"}
"""Where a SARIF result points: the spec of the API the failed check tests (code scanning needs a file)."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


CSS = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:2em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    "tr.passed td:nth-child(2){color:#1a7f37}tr.failed td:nth-child(2),tr.error td:nth-child(2){color:#cf222e;"
    "font-weight:bold}tr.skipped td:nth-child(2){color:#9a6700}h1.passed{color:#1a7f37}h1.failed{color:#cf222e}"
    "pre{white-space:pre-wrap;font-size:12px;background:#f6f8fa;padding:4px}"
)
