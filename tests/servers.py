"""Start ``eventdouble serve`` as a subprocess for tests that need a real server process."""

from __future__ import annotations

import re
import subprocess
import sys
import threading


def start_server(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    """Run ``eventdouble serve --port 0 ARGS``; once it serves, return the process, its base URL
    and what it printed before it listened."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", *args],
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
    match = re.search(r"serving on (http://\S+)", banner)
    assert match, banner
    threading.Thread(target=process.stdout.read, daemon=True).start()  # keep the pipe drained
    return process, match.group(1), banner
