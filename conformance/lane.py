"""Run some checks in another Python process, beside the ones running elsewhere.

A check's client side is CPU work (hypothesis generating cases, crypto, HTTP), held by one
interpreter lock, and so is an in-process mock answering it. In processes of their own, the
schema phase and the other checks each run on a core while the mock answers from this one. The
child gets the target (its credentials, and the mock's admin API for credentials made on the
fly), the run's id and options, and sends each result as soon as its check finishes. Both ends
are this package, so they talk in pickle over the child's stdin and stdout. A check the child
did not report (it could not start, or died) is run by the caller instead.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import httpx

from conformance.core import CHECKS, CheckResult, Context

__all__ = ["Lane", "start"]

_LENGTH = struct.Struct(">I")
LOG = logging.getLogger("conformance")


@dataclass
class Lane:
    """Checks running in a child process."""

    names: list[str]
    process: subprocess.Popen[bytes]
    errors: IO[bytes]
    """What the child wrote on stderr (a file: a pipe nobody reads could fill and stop it)."""

    def results(self) -> Iterator[CheckResult]:
        """Each check's result as the child reports it; ends when the child does."""
        assert self.process.stdout is not None
        reported = 0
        with self.process.stdout as stream:
            while header := stream.read(_LENGTH.size):
                frame = stream.read(_LENGTH.unpack(header)[0]) if len(header) == _LENGTH.size else b""
                try:
                    result = pickle.loads(frame)
                except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):
                    break
                if isinstance(result, CheckResult) and result.name in self.names:
                    reported += 1
                    yield result
        if self.process.wait() != 0 or reported < len(self.names):
            self.errors.seek(0)
            last = (self.errors.read().decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
            LOG.warning("%d check(s) run in this process instead: their child process stopped (%s)",
                        len(self.names) - reported, last)  # fmt: skip
        self.errors.close()

    def stop(self) -> None:
        """Stop the child without its results."""
        self.process.kill()
        self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.errors.close()


def start(names: list[str], ctx: Context, workers: int) -> Lane | None:
    """Start running ``names`` against ``ctx``'s target in a child process (on ``workers`` threads there).

    None if it cannot be started here (a target that cannot be handed to another process, e.g.
    one with credentials made by a local function): the caller runs the checks itself.
    """
    job = {"names": names, "target": ctx.target, "run_id": ctx.run_id, "options": ctx.options}
    job.update(timeout=ctx.http.timeout.read or 30.0, workers=workers)
    job["modules"] = sorted({CHECKS[name].run.__module__ for name in names})  # the child imports only these
    try:
        payload = pickle.dumps(job)
    except (pickle.PicklingError, AttributeError, TypeError):
        return None
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - the lane closes it when the child is done
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "conformance.lane"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
        )
    except OSError as exc:
        errors.close()
        LOG.warning("no child process for %d check(s) (%s): they run in this process", len(names), exc)
        return None
    lane = Lane(names, process, errors)
    assert process.stdin is not None
    try:
        with process.stdin:
            process.stdin.write(payload)
    except OSError as exc:  # the child died at once: the caller runs its checks
        lane.stop()
        LOG.warning("the child process for %d check(s) stopped at once (%s): they run in this process", len(names), exc)
        return None
    return lane


def _run(job: dict[str, Any], out: IO[bytes]) -> None:
    from conformance.scheduling import run_checks

    for module in job["modules"]:  # importing a module registers its checks
        importlib.import_module(module)

    lock = threading.Lock()

    def send(position: int, total: int, result: CheckResult) -> None:
        frame = pickle.dumps(result)
        with lock:
            try:
                out.write(_LENGTH.pack(len(frame)) + frame)
                out.flush()
            except BrokenPipeError:  # the parent is gone: nobody wants the other results
                os._exit(1)

    with httpx.Client(timeout=job["timeout"]) as http:
        ctx = Context(job["target"], http, run_id=job["run_id"], options=job["options"])
        run_checks(job["names"], ctx, job["workers"], send, processes=False)


def main() -> None:
    """The child: read the job on stdin, send each result on stdout (anything printed goes to stderr)."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    with out:
        _run(pickle.loads(sys.stdin.buffer.read()), out)


if __name__ == "__main__":
    main()
