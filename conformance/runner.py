"""Run the checks against a target and report: a terminal table, JUnit XML and Markdown."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from conformance import kosmos_checks, schema_phase, tenduke_checks  # noqa: F401 - they register their checks
from conformance.core import CHECKS, CheckResult, ConformanceError, Context, Target, run_check

__all__ = ["Report", "run"]


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

    def table(self) -> str:
        """A plain-text table, then a reproduction for each failure."""
        width = max(len(r.name) for r in self.results)
        lines = [f"{'check'.ljust(width)}  {'result':8}  detail", "-" * (width + 40)]
        for r in self.results:
            lines.append(f"{r.name.ljust(width)}  {r.status.upper():8}  {r.detail}")
        counts = {s: sum(r.status == s for r in self.results) for s in ("passed", "failed", "skipped", "error")}
        lines.append("")
        lines.append(", ".join(f"{n} {s}" for s, n in counts.items()) + f" against {self.target}")
        for r in self.failed:
            if r.reproduction:
                lines += ["", f"reproduce {r.name}:", f"  {r.reproduction}"]
        return "\n".join(lines)

    def junit(self) -> str:
        """JUnit XML, one test case per check."""
        suite = ET.Element(
            "testsuite",
            name="eventdouble-conformance",
            tests=str(len(self.results)),
            failures=str(sum(r.status == "failed" for r in self.results)),
            errors=str(sum(r.status == "error" for r in self.results)),
            skipped=str(sum(r.status == "skipped" for r in self.results)),
        )
        for r in self.results:
            case = ET.SubElement(
                suite, "testcase", classname=f"conformance.{r.api}", name=r.name, time=f"{r.seconds:.3f}"
            )
            if r.status in ("failed", "error"):
                element = ET.SubElement(case, "failure" if r.status == "failed" else "error", message=r.detail)
                element.text = r.reproduction or r.detail
            elif r.status == "skipped":
                ET.SubElement(case, "skipped", message=r.detail)
        return ET.tostring(suite, encoding="unicode", xml_declaration=True)

    def markdown(self) -> str:
        """A human-readable report."""
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"# Conformance report: {verdict}", "", f"Target: `{self.target}`", "",
                 "| check | result | what it checks | detail |", "|---|---|---|---|"]  # fmt: skip
        for r in self.results:
            detail = r.detail.replace("|", "\\|")
            lines.append(f"| `{r.name}` | {r.status} | {r.description} | {detail} |")
        for r in self.failed:
            if r.reproduction:
                lines += ["", f"## Reproduce `{r.name}`", "", "```sh", r.reproduction, "```"]
        return "\n".join(lines) + "\n"

    def write(self, directory: str | Path) -> list[Path]:
        """Write ``junit.xml`` and ``report.md`` into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / "junit.xml").write_text(self.junit(), encoding="utf-8")
        (out / "report.md").write_text(self.markdown(), encoding="utf-8")
        return [out / "junit.xml", out / "report.md"]


def selected(apis: Iterable[str], names: Sequence[str] | None = None) -> list[str]:
    """The names of the checks to run for ``apis`` (``kosmos``, ``tenduke``), optionally narrowed."""
    wanted = set(apis)
    chosen = [n for n, c in CHECKS.items() if c.api in wanted and (not names or n in names)]
    if names and (unknown := sorted(set(names) - set(CHECKS))):
        raise ConformanceError(f"unknown checks {unknown}")
    return chosen


def run(
    target: Target,
    apis: Iterable[str] = ("kosmos", "tenduke"),
    names: Sequence[str] | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
    max_examples: int = 25,
    seed: int | None = None,
) -> Report:
    """Run the chosen checks against ``target``; raise ConformanceError if it cannot be reached."""
    apis = list(apis)
    if "kosmos" in apis and target.kosmos is None:
        raise ConformanceError("1Kosmos checks need --kosmos-license, --tenant and --community")
    if "tenduke" in apis and target.tenduke is None:
        raise ConformanceError("10Duke checks need --tenduke-key and --feed")
    with httpx.Client(transport=transport, timeout=timeout) as http:
        try:
            http.get(target.base_url)
        except httpx.TransportError as exc:
            raise ConformanceError(f"cannot reach {target.base_url}: {exc}") from exc
        ctx = Context(target, http, options={"max_examples": max_examples, "seed": seed})
        return Report(target.base_url, [run_check(CHECKS[name], ctx) for name in selected(apis, names)])
