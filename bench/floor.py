"""How fast the signed 1Kosmos PUT could be: its necessary work alone, against the mock and Prism.

    .venv/bin/python bench/floor.py            # about two minutes; prints three lines

"The floor" answers the signed PUT with only the work the rules require: the header and spec
checks, the ECDH key (cached), three AES-GCM decryptions, the request id's replay check, one
SQLite transaction and the journal entry. No framework, no fault rules, no CORS, no rate limit,
no error mapping (every request here is valid): a plain WSGI function served exactly as the mock
is (``serve --workers 1``: uvicorn and the workers' bridge, so its writes are group-committed as
the mock's are), on the same pinned core as the mock and Prism, with wrk on the other core, as
bench/run.py measures them. It is an experiment, not a server: the gap between it and the mock
is what the mock's own per-request layers cost (mockserver/vendor.py: routing, fault rules, CORS,
error mapping).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402 - bench/ is not a package

from eventclient import jws  # noqa: E402
from mockserver import create_app  # noqa: E402
from mockserver.backend import backend_of  # noqa: E402
from mockserver.seed import apply_seed  # noqa: E402

_floor: Any = None


def _load_floor() -> Any:
    """The floor's handler, bound to the database named by FLOOR_DATABASE (in the server process)."""
    from werkzeug.wrappers import Request

    from mockserver.journal import JournalEntry
    from mockserver.kosmos.auth import commit_request, verify_caller
    from mockserver.kosmos.events import build_event, open_event_data
    from mockserver.limits import check_headers
    from mockserver.routing import load_spec

    app = create_app({"DATABASE": os.environ["FLOOR_DATABASE"]})
    backend, config = backend_of(app), app.config
    spec = load_spec("kosmos-events")
    operation = spec.operations["createEvent"]

    def handle(environ: dict[str, Any]) -> list[tuple[bytes, bytes]]:
        request = Request(environ)
        check_headers(request, config)
        _, _, tenant, _, community, _, name = environ["PATH_INFO"].split("/")[1:8]
        checked = spec.validate(operation, request, {"tenantId": tenant, "communityId": community, "eventName": name})
        seen: dict[str, str] = {}
        caller = verify_caller(request.headers, backend.kosmos, now=backend.clock(),
                               window=float(config["ALLOWED_TIME_SPAN"]), replay_memory=float(config["REPLAY_MEMORY"]),
                               seen=seen)  # fmt: skip
        data = open_event_data(checked.body["data"], caller.shared_key)
        spec.check("/components/schemas/EventData", data, "data")
        event = build_event(data, tenant_id=tenant, community_id=community, event_name=name,
                            request_id=caller.request_id, now=backend.clock())  # fmt: skip
        commit_request(backend.kosmos, caller, lambda tx: backend.kosmos.write_event(tx, event))
        backend.journal.record(JournalEntry(time=backend.clock(), method="PUT", path=environ["PATH_INFO"], status=200,
                                            api="kosmos", reason=None, request_id=seen.get("request_id"),
                                            license_key_id=seen.get("license_key_id"), fault_id=None))  # fmt: skip
        return [("requestid", caller.request_id_text), ("Content-Length", "0")]

    return handle


class FloorApp:
    """The floor as a WSGI app for the workers' bridge: PUT does the work, anything else answers 200."""

    def __init__(self) -> None:
        self.handle = _load_floor()
        self.config: dict[str, Any] = {}  # the bridge reads its limits here: the defaults
        self.extensions: dict[str, Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        """Answer one request."""
        headers = self.handle(environ) if environ["REQUEST_METHOD"] == "PUT" else [("Content-Length", "0")]
        start_response("200 OK", headers)
        return [b""]


def create_floor_app(config: Any = None) -> FloorApp:
    """The floor, built in the server's worker (``mockserver.serving.serve_workers``)."""
    return FloorApp()


def main() -> int:
    """Measure the signed PUT on the floor, the mock and Prism; print a line each."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per server; the median is reported")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the floor's own server
    args = parser.parse_args()
    if args.serve:
        from mockserver.serving import listen, serve_workers

        serve_workers({}, listen("127.0.0.1", args.serve), 1, factory="floor:create_floor_app")
        return 0
    args.connections = 8
    os.sched_setaffinity(0, {bench.LOAD_CORE})
    wrk, prism = bench.ensure_wrk(), bench.ensure_prism()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        database = f"{tmp}/floor.sqlite"
        seeded = create_app({"DATABASE": database})
        apply_seed(backend_of(seeded), {"licenses": [{"licenseKey": bench.LICENSE, "authLevel": "system"}]})
        public_key = backend_of(seeded).kosmos.primary_key().public_key
        creds = bench.Credentials(public_key, rsa=jws.generate_rsa_keypair(2048))
        backend_of(seeded).close()
        port = bench.free_port()
        base = f"http://127.0.0.1:{port}"
        servers = {
            "the floor (the work alone, served as the mock is, no framework)": [
                "env", f"FLOOR_DATABASE={database}", f"PYTHONPATH={BENCH}:{BENCH.parent}", sys.executable,
                str(BENCH / "floor.py"), "--serve", str(port)],
            "the mock (`serve --workers 1`)": [
                str(bin_dir / "eventdouble"), "serve", "--port", str(port), "--db", database, "--workers", "1"],
            "Prism": [prism, "mock", "-v", "silent", "-h", "127.0.0.1", "-p", str(port),
                      str(BENCH.parent / "openapi" / "kosmos-events.yaml")],
        }  # fmt: skip
        for name, command in servers.items():
            with bench.running(bench.pinned(command), f"{base}/events/healthz") as server:
                puts = lambda: bench.kosmos_puts(creds, args.duration * 6000, bench.LICENSE)  # noqa: E731
                figures = bench.measure(wrk, base, puts, args, name, server.pid)
            print(f"{name}: {figures.rps:,.0f} req/s, {figures.cpu_us:,.0f} µs CPU/request, "
                  f"non-2xx {figures.non_2xx}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
