"""The report of a run: a terminal table, JUnit XML, Markdown and a self-contained HTML page.

Besides each check's result it gives a score per operation (checks run, passed, failed, skipped)
and a coverage line per rule family: exercised, or skipped and for which missing credentials.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from conformance.core import CheckResult

__all__ = ["Report"]

STATUSES = ("passed", "failed", "skipped", "error")


@dataclass
class Report:
    """The results of one run."""

    target: str
    results: list[CheckResult]

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
            f"<p>Target: <code>{e(self.target)}</code><br>{e(self.summary())}</p>"
            f"<h2>Checks</h2><table><tr><th>code<th>check<th>result<th>what it checks<th>detail</tr>{rows}</table>"
            f"<h2>Per operation</h2><table><tr><th>operation<th>run<th>passed<th>failed<th>skipped</tr>{ops}</table>"
            f"<h2>Rule families</h2><table><tr><th>family<th>coverage<th>skipped because</tr>{families}</table>"
            "</body></html>\n"
        )

    def write(self, directory: str | Path) -> list[Path]:
        """Write ``junit.xml``, ``report.md`` and ``report.html`` into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        files = {"junit.xml": self.junit(), "report.md": self.markdown(), "report.html": self.html()}
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
        return [out / name for name in files]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


CSS = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:2em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    "tr.passed td:nth-child(2){color:#1a7f37}tr.failed td:nth-child(2),tr.error td:nth-child(2){color:#cf222e;"
    "font-weight:bold}tr.skipped td:nth-child(2){color:#9a6700}h1.passed{color:#1a7f37}h1.failed{color:#cf222e}"
    "pre{white-space:pre-wrap;font-size:12px;background:#f6f8fa;padding:4px}"
)
