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
