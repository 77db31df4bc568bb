"""Start ``eventdouble serve`` as a subprocess for tests that need a real server process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path


def start_server(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    """Run ``eventdouble serve --port 0 ARGS``; once it serves, return the process, its base URL
    and what it printed before it listened. What it prints later is read and dropped."""
    process, url, banner = launch_server(*args)
    assert process.stdout is not None
    threading.Thread(target=process.stdout.read, daemon=True).start()  # keep the pipe drained
    return process, url, banner


def launch_server(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    """:func:`start_server`, leaving what the server prints after its banner in ``process.stdout``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "eventdouble", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    banner = ""
    for line in process.stdout:
        banner += line
        if line.startswith("Press Ctrl+C"):
            break
    match = re.search(r"serving on (https?://\S+)", banner)
    assert match, banner
    return process, match.group(1), banner


def write_seed(path: Path, license_key: str, tenduke_public_pem: str) -> Path:
    """A seed file with one system-level 1Kosmos license and one registered 10Duke client key."""
    path.write_text(json.dumps({
        "licenses": [{"licenseKey": license_key, "authLevel": "system"}],
        "tendukeClients": [{"publicKeyPem": tenduke_public_pem}],
    }))  # fmt: skip
    return path


def stop_server(process: subprocess.Popen[str]) -> None:
    """Stop a server from :func:`start_server` as Ctrl+C would, and close its output pipe."""
    process.send_signal(signal.SIGINT)
    process.wait(timeout=15)
    if process.stdout:
        process.stdout.close()
