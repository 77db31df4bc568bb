"""Issue 31: gates and baselines, as a team's CI uses them: --fail-on, --min-score, --baseline, --baseline-update."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conformance.runner import CHECKS  # importing the runner registers every check
from eventdouble.cli import main
from mockserver import MockServer
from tests.broken_servers import broken_mock

REPLAY, ACROSS_KEYS, ACROSS_LICENSES = (
    "kosmos.replayed_request_id_refused",
    "kosmos.replay_across_key_pairs",
    "kosmos.replay_across_licenses",
)


def conform(url: str, *args: str) -> int:
    return main(["conform", "--target", url, "--provision-mock", "--api", "kosmos", "--quiet", *args])


def checks(*names: str) -> list[str]:
    return [arg for name in names for arg in ("--check", name)]


def test_the_baseline_accepts_known_failures_fails_new_ones_and_shrinks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = str(tmp_path / "baseline.yaml")
    with broken_mock("accept_replays") as server:  # breaks all three replay rules
        assert conform(server.url, *checks(REPLAY, ACROSS_KEYS)) == 1  # two broken rules, no baseline
        assert conform(server.url, *checks(REPLAY, ACROSS_KEYS), "--baseline", baseline, "--baseline-update") == 0
        accepted = yaml.safe_load(Path(baseline).read_text())["accepted"]
        assert set(accepted) == {CHECKS[REPLAY].code, CHECKS[ACROSS_KEYS].code}
        assert conform(server.url, *checks(REPLAY, ACROSS_KEYS), "--baseline", baseline) == 0  # baselined: passes
        capsys.readouterr()
        assert conform(server.url, *checks(REPLAY, ACROSS_KEYS, ACROSS_LICENSES), "--baseline", baseline) == 1
        assert f"{CHECKS[ACROSS_LICENSES].code} {ACROSS_LICENSES} failed" in capsys.readouterr().out  # the third
    with broken_mock("replay_per_key_pair") as server:  # the same-key replay is fixed, the cross-key one is not
        assert conform(server.url, *checks(REPLAY, ACROSS_KEYS), "--baseline", baseline) == 1
        assert "is on the baseline but passes now" in capsys.readouterr().out
        assert conform(server.url, *checks(REPLAY, ACROSS_KEYS), "--baseline", baseline, "--baseline-update") == 0
        assert set(yaml.safe_load(Path(baseline).read_text())["accepted"]) == {CHECKS[ACROSS_KEYS].code}
        assert conform(server.url, *checks(REPLAY, ACROSS_KEYS), "--baseline", baseline) == 0


def test_fail_on_and_min_score(capsys: pytest.CaptureFixture[str]) -> None:
    with broken_mock("sd_without_licenses") as server:  # a correctness rule broken
        discovery = checks("kosmos.discovery", "kosmos.public_key")
        assert conform(server.url, *discovery) == 1
        assert conform(server.url, *discovery, "--fail-on", "security") == 0  # not a security failure
        assert "accepted by --baseline or --fail-on" in capsys.readouterr().out
        assert conform(server.url, *discovery, "--fail-on", "security,correctness") == 1
        assert conform(server.url, *discovery, "--fail-on", "envelope") == 1  # by rule family
        assert conform(server.url, *discovery, "--fail-on", "format", "--min-score", "50") == 0  # 1 of 2 passed
        assert conform(server.url, *discovery, "--fail-on", "format", "--min-score", "60") == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--fail-on", "severe"], "not a severity or rule family"),
        (["--baseline-update"], "needs --baseline FILE"),
        (["--min-score", "120"], "percentage"),
        (["--baseline", "/nonexistent/baseline.yaml"], "cannot read baseline"),
    ],
)
def test_bad_gate_options_exit_2_before_running(args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with MockServer() as server:
        assert conform(server.url, *checks("kosmos.public_key"), *args) == 2
    assert says in capsys.readouterr().err


def pytest_entry(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pytest --pyargs conformance`` as a QA repository runs it (from its own directory, no ini of ours)."""
    command = [sys.executable, "-m", "pytest", "--pyargs", "conformance", "-v", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_the_pytest_entry_names_tests_by_code_and_takes_the_baseline(tmp_path: Path) -> None:
    code = CHECKS["kosmos.discovery"].code
    done = pytest_entry(tmp_path, "--against-mock", "-k", f"{code} or KOS-ENV-001")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"test_conformance[{code}-kosmos.discovery] PASSED" in done.stdout
    with broken_mock("sd_without_licenses") as server:
        assert main(["conform", "--target", server.url, "--provision-mock", "--write-credentials", str(tmp_path)]) == 0
        target = ["--target-url", server.url, "--credentials", str(tmp_path / "credentials.yaml"), "-k", code]
        failed = pytest_entry(tmp_path, *target)
        assert failed.returncode == 1 and f"{code} kosmos.discovery: /caas/sd lacks" in failed.stdout, failed.stdout
        baseline = tmp_path / "known.yaml"
        baseline.write_text(f"accepted:\n  {code}: the directory is being fixed\n")
        accepted = pytest_entry(tmp_path, *target, "--conformance-baseline", str(baseline))
        assert accepted.returncode == 0 and "XFAIL" in accepted.stdout, accepted.stdout
        other = pytest_entry(tmp_path, *target, "--conformance-fail-on", "security")
        assert other.returncode == 0 and "XFAIL" in other.stdout, other.stdout


def test_the_github_actions_recipe_runs_commands_the_kit_takes() -> None:
    import shlex

    from eventdouble.cli import build_parser

    recipe = yaml.safe_load((Path(__file__).parents[1] / "docs" / "ci" / "github-actions.yml").read_text())
    steps = recipe["jobs"]["conformance"]["steps"]
    commands = [shlex.split(step["run"]) for step in steps if step.get("run", "").startswith("eventdouble conform")]
    assert len(commands) == 1
    args = build_parser().parse_args(commands[0][1:])
    assert (args.report_dir, args.baseline, args.fail_on) == (
        "reports",
        "conformance-baseline.yaml",
        "security,correctness",
    )
    uploads = {step["uses"].split("@")[0]: step.get("with", {}) for step in steps if "uses" in step}
    assert uploads["github/codeql-action/upload-sarif"]["sarif_file"] == f"{args.report_dir}/report.sarif"
    assert uploads["actions/upload-artifact"]["path"] == f"{args.report_dir}/"
