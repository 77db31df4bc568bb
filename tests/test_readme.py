"""The README's example runs against a live mock, and CI runs the README's test command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.test_cli_and_restart import serving

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def run_example(code: str, db: Path) -> str:
    with serving("--db", str(db)) as (base, banner):
        license_key = re.search(r"development license: (\S+)", banner).group(1)
        env = {**os.environ, "EVENTDOUBLE_URL": base, "EVENTDOUBLE_LICENSE": license_key}
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_readme_python_examples_run(tmp_path: Path) -> None:
    runnable = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if "EVENTDOUBLE_URL" in b]
    kosmos, tenduke = runnable
    out = run_example(kosmos, tmp_path / "kosmos.sqlite")
    assert "'total': 1" in out
    assert out.endswith("ann")
    assert run_example(tenduke, tmp_path / "tenduke.sqlite") == "[('login', True), ('logout', True)]"


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    serve_command, test_command = commands[0], commands[1]
    assert "eventdouble serve" in serve_command
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_the_readme_settings_table_is_the_one_made_from_the_settings() -> None:
    from mockserver.settings import settings_table

    table = README.split("<!-- settings:start -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert table == settings_table(), "run `eventdouble settings` and paste its table into the README"


def test_the_readme_curl_recipe_stores_a_signed_event(tmp_path: Path) -> None:
    import shutil

    import httpx

    if not shutil.which("jq"):
        message = "jq is not installed; .ci/run installs it with apt"
        if os.environ.get("CI"):
            raise AssertionError(message)
        import pytest

        pytest.skip(message)
    (recipe,) = [b for b in re.findall(r"```bash\n(.*?)```", README, re.S) if "ecdsa_helper" in b]
    with serving("--db", str(tmp_path / "curl.sqlite")) as (base, banner):
        license_key = re.search(r"development license: (\S+)", banner).group(1)  # type: ignore[union-attr]
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # eventdouble, as if activated
        env = {**os.environ, "EVENTDOUBLE_URL": base, "EVENTDOUBLE_LICENSE": license_key, "PATH": path}
        result = subprocess.run(["bash", "-c", recipe], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stdout.strip() == "200", result.stdout + result.stderr
        stored = httpx.get(f"{base}/__admin/events", params={"api": "kosmos"}).json()
    assert [(e["eventName"], e["user"], e["appid"]) for e in stored] == [("E_LOGIN_ATTEMPT", "ann", "curl")]
