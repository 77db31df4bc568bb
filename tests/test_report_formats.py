"""Issue 31: the kit's reports in formats CI reads: SARIF 2.1.0, CTRF and a JSON summary, each valid against its
published schema, each carrying the kit's version, the target, the seed, the options and the date."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance import run
from conformance.mock_target import provision
from tests.broken_servers import broken_mock

SCHEMAS = Path(__file__).parent / ".schemas"
CHECKS = ["kosmos.reports_metrics", "kosmos.discovery", "tenduke.event_id"]


def published_schema(name: str) -> dict[str, Any]:
    path = SCHEMAS / name
    if not path.exists():
        message = f"{path} is missing; .ci/report-schemas fetches it from npm"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The reports of a run with a failure (a broken mock), written to a directory."""
    out = tmp_path_factory.mktemp("reports")
    with broken_mock("unknown_metric_is_zero") as server:
        report = run(provision(server.url), names=CHECKS, seed=42, max_examples=3)
    assert [r.name for r in report.failed] == ["kosmos.reports_metrics"]
    report.write(out)
    yield out


def test_the_json_summary_validates_against_its_published_schema(reports: Path) -> None:
    schema = json.loads((Path(__file__).parents[1] / "conformance" / "summary-schema.json").read_text())
    summary = json.loads((reports / "summary.json").read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(summary)
    assert summary["verdict"] == "FAILED" and summary["counts"]["failed"] == 1
    [failed] = [c for c in summary["checks"] if c["status"] == "failed"]
    assert failed["code"] == "KOS-RPT-004" and failed["reproduction"].startswith("curl ")
    assert summary["meta"]["seed"] == 42 and sorted(summary["meta"]["options"]["checks"]) == sorted(CHECKS)


def test_the_sarif_report_validates_against_sarif_2_1(reports: Path) -> None:
    sarif = json.loads((reports / "report.sarif").read_text())
    jsonschema.Draft4Validator(published_schema("sarif-2.1.0.json")).validate(sarif)
    [sarif_run] = sarif["runs"]
    rules = {rule["id"]: rule for rule in sarif_run["tool"]["driver"]["rules"]}
    assert set(rules) == {"KOS-RPT-004", "KOS-SD-001", "TDK-EVT-003"}
    [result] = sarif_run["results"]
    assert result["ruleId"] == "KOS-RPT-004" and result["level"] == "error"
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert (Path(__file__).parents[1] / location).exists()  # code scanning shows it on a file of the repository
    assert sarif_run["invocations"][0]["properties"]["seed"] == 42


def test_the_ctrf_report_validates_against_its_schema(reports: Path) -> None:
    ctrf = json.loads((reports / "ctrf.json").read_text())
    schema = published_schema("ctrf.json")
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(ctrf)
    summary = ctrf["results"]["summary"]
    assert (summary["tests"], summary["passed"], summary["failed"]) == (3, 2, 1)
    assert summary["stop"] >= summary["start"] > 0


def test_every_format_carries_the_run(reports: Path) -> None:
    summary = json.loads((reports / "summary.json").read_text())
    meta = summary["meta"]
    assert {"version", "target", "seed", "options", "date"} <= set(meta)
    properties = {p.get("name"): p.get("value") for p in ET.parse(reports / "junit.xml").getroot().iter("property")}
    assert properties["run seed"] == "42" and properties["run date"] == meta["date"]
    assert properties["run version"] == meta["version"] and properties["run target"] == meta["target"]
    for page in ("report.md", "report.html"):
        text = (reports / page).read_text()
        assert meta["date"] in text and "seed 42" in text and meta["version"] in text
    assert json.loads((reports / "ctrf.json").read_text())["results"]["extra"]["meta"] == meta
