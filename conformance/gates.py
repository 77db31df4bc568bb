"""What makes a run fail for a team's CI: which failures count, a minimum score, and a baseline of known failures.

Without a gate every failure fails the run. ``fail_on`` counts only the failures of the severities
(``security``, ``correctness``, ``format``) or rule families (``request ids``, ``query``, ...) it
names. ``min_score`` fails a run whose share of passed checks, among those that ran, is lower. A
baseline accepts listed failures, by code, while a server is being fixed: a failure not on it
fails the run, and so does a listed code that now passes, so the list only shrinks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from conformance.core import ConformanceError
from conformance.report import Report

__all__ = ["Gate", "load_baseline", "write_baseline"]


@dataclass(frozen=True)
class Gate:
    """The rules that turn a report into a CI verdict."""

    fail_on: frozenset[str] = frozenset()
    """Severities or families whose failures fail the run; empty: every failure does."""
    min_score: float | None = None
    """Least percentage of the checks that ran (not skipped) that must pass."""
    baseline: dict[str, str] = field(default_factory=dict)
    """Known failures by code, each with why it is accepted for now."""

    def reasons(self, report: Report) -> list[str]:
        """Why the run fails under this gate (empty: it passes), one line each."""
        reasons = []
        counted = [r for r in report.failed if not self.fail_on or {r.severity, r.family} & self.fail_on]
        new = [r for r in counted if r.code not in self.baseline]
        reasons += [f"{r.code} {r.name} failed ({r.severity}): {r.detail}" for r in new]
        passing = {r.code: r.name for r in report.results if r.status == "passed"}
        reasons += [
            f"{code} {passing[code]} is on the baseline but passes now: remove it (--baseline-update)"
            for code in self.baseline
            if code in passing
        ]
        ran = [r for r in report.results if r.status != "skipped"]
        if self.min_score is not None and ran:
            score = 100 * sum(r.status == "passed" for r in ran) / len(ran)
            if score < self.min_score:
                reasons.append(f"score {score:.1f}% is under --min-score {self.min_score:g}%")
        return reasons


def load_baseline(path: str | Path) -> dict[str, str]:
    """The known failures of a baseline file: ``{"accepted": {CODE: why}}`` (YAML or JSON)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConformanceError(f"cannot read baseline {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConformanceError(f"baseline {path} is not YAML or JSON: {exc}") from exc
    accepted = data.get("accepted", {}) if isinstance(data, dict) else None
    if not isinstance(accepted, dict) or not all(isinstance(k, str) for k in accepted):
        raise ConformanceError(f"baseline {path}: expected {{accepted: {{CODE: reason}}}}")
    return {code: str(why or "") for code, why in accepted.items()}


def write_baseline(path: str | Path, report: Report, previous: dict[str, str]) -> dict[str, str]:
    """Write the report's failures as the baseline at ``path``, keeping the reasons already written; return it."""
    accepted = {r.code: previous.get(r.code) or f"{r.name}: {r.detail}"[:300] for r in report.failed}
    text = (
        "# Known failures, accepted while the server is being fixed (eventdouble conform --baseline).\n"
        "# A failure not listed fails the run; a listed code that passes fails it too, until removed.\n"
    )
    Path(path).write_text(text + yaml.safe_dump({"accepted": accepted}, sort_keys=True), encoding="utf-8")
    return accepted
