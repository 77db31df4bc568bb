"""Three mock processes on one PostgreSQL behind nginx, as the README's "Scaling out" recipe runs them.

Needs a PostgreSQL database (``POSTGRES_TEST_URL``) and Debian's nginx; ``.ci/run`` provides both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from eventclient import ClientError, KosmosClient, TenDukeClient, kosmos_crypto
from eventclient.exceptions import ApiError
from tests.conftest import rsa_pair
from tests.engines import POSTGRES_URL, fresh_postgres
from tests.servers import start_server, write_seed

RECIPE = Path(__file__).resolve().parent.parent / "docs" / "scaling-out" / "nginx.conf"
LICENSE = "scaling-test-license-0001"
ADMIN_TOKEN = "scaling-test-admin-token"
PROCESSES = 3


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _needs(tool: str) -> None:
    if shutil.which(tool) is None:
        message = f"{tool} is not installed; .ci/run installs it with apt"
        if os.environ.get("CI"):
            raise AssertionError(message)
        pytest.skip(message)


@dataclass
class Fleet:
    """Three mock processes, their ports, and nginx in front of them."""

    front: str
    ports: list[int]
    start_args: list[str]
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self, index: int) -> None:
        """(Re)start mock process ``index`` on its port."""
        process, _, _ = start_server(*self.start_args, "--port", str(self.ports[index]))
        if index < len(self.processes):
            self.processes[index] = process
        else:
            self.processes.append(process)

    def kill(self, index: int) -> None:
        """kill -9 mock process ``index``: no chance to finish anything."""
        process = self.processes[index]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()

    def direct(self, index: int) -> str:
        """The URL of mock process ``index`` itself, not through nginx."""
        return f"http://127.0.0.1:{self.ports[index]}"


def _serve_recipe(directory: Path, listen: int, ports: list[int]) -> subprocess.Popen[bytes]:
    """nginx with the README's configuration, its addresses replaced by these ports."""
    text = RECIPE.read_text().replace("127.0.0.1:8080", f"127.0.0.1:{listen}")
    for n, port in enumerate(ports, 1):
        text = text.replace(f"127.0.0.1:808{n}", f"127.0.0.1:{port}")
    assert re.search(r"127\.0\.0\.1:808\d\b", text) is None, "the recipe's addresses changed; update this test"
    conf = directory / "nginx.conf"
    conf.write_text(text)
    directory.chmod(0o777)  # nginx's workers (nobody, under root) keep their temporary files here
    return subprocess.Popen(["nginx", "-p", str(directory), "-c", str(conf)], stderr=subprocess.PIPE)


def _wait_for_front(nginx: subprocess.Popen[bytes], front: str) -> None:
    """Wait (up to 20 s) until ``nginx`` answers ``front``'s healthz; fail if nginx stops first."""
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{front}/events/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert nginx.poll() is None, nginx.stderr.read() if nginx.stderr else "nginx stopped"
        assert time.monotonic() < deadline, "nginx did not start"
        time.sleep(0.1)


def _stop_nginx(nginx: subprocess.Popen[bytes]) -> None:
    """Stop ``nginx`` gracefully and close its error pipe."""
    nginx.send_signal(signal.SIGQUIT)
    nginx.wait(timeout=10)
    if nginx.stderr:
        nginx.stderr.close()


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    if not POSTGRES_URL:
        pytest.skip("set POSTGRES_TEST_URL (.ci/run does)")
    _needs("nginx")
    pair = rsa_pair()
    seed = write_seed(tmp_path / "seed.json", LICENSE, pair.public_pem)
    monkeypatch.setenv("EVENTDOUBLE_ADMIN_TOKEN", ADMIN_TOKEN)  # the admin API is reachable through nginx
    nginx = None
    with fresh_postgres() as url:
        listen = _free_port()
        fleet = Fleet(f"http://127.0.0.1:{listen}", [_free_port() for _ in range(PROCESSES)],
                      ["--db", url, "--seed", str(seed)])  # fmt: skip
        try:
            for index in range(PROCESSES):
                fleet.start(index)
            (tmp_path / "nginx").mkdir()
            nginx = _serve_recipe(tmp_path / "nginx", listen, fleet.ports)
            _wait_for_front(nginx, fleet.front)
            yield fleet
        finally:
            if nginx is not None:
                _stop_nginx(nginx)
            for process in fleet.processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
                    process.wait(timeout=15)
                if process.stdout:
                    process.stdout.close()


@dataclass
class Outcomes:
    """What the writers saw."""

    tenduke: list[str] = field(default_factory=list)
    kosmos: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """Requests that got no answer of the mock's (the killed process's, through nginx: 502)."""
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, exc: ClientError) -> None:
        with self.lock:
            if isinstance(exc, ApiError) and exc.status < 500:
                self.refused.append(str(exc))
            else:
                self.failed.append(str(exc))


def _write(front: str, private_pem: str, outcomes: Outcomes, stop: threading.Event) -> list[threading.Thread]:
    """Eight writers through the front: four on each API."""

    def tenduke_writer() -> None:
        with TenDukeClient(front, private_pem, timeout=10, retries=0) as client:
            while not stop.is_set():
                batch = [{"eventSourceId": "scale", "eventType": "t", "id": str(uuid.uuid4())} for _ in range(5)]
                try:
                    client.put(batch)
                except ClientError as exc:
                    outcomes.note(exc)
                    continue
                with outcomes.lock:
                    outcomes.tenduke.extend(e["id"] for e in batch)

    def kosmos_writer() -> None:
        with KosmosClient(front, LICENSE, timeout=10) as client:
            while not stop.is_set():
                marker = str(uuid.uuid4())
                try:
                    client.put_event("t", "c", "E_SCALE", {"type": "scale", "id": marker})
                except ClientError as exc:
                    outcomes.note(exc)
                    continue
                with outcomes.lock:
                    outcomes.kosmos.append(marker)

    writers = [threading.Thread(target=w) for w in [tenduke_writer] * 4 + [kosmos_writer] * 4]
    for writer in writers:
        writer.start()
    return writers


def test_three_processes_behind_nginx_survive_a_kill_9(fleet: Fleet) -> None:
    pair = rsa_pair()
    outcomes, stop = Outcomes(), threading.Event()
    writers = _write(fleet.front, pair.private_pem, outcomes, stop)
    time.sleep(2.0)
    fleet.kill(1)  # mid-stream
    time.sleep(1.0)
    fleet.start(1)  # back on its port: nginx sends it requests again
    time.sleep(2.0)
    stop.set()
    for writer in writers:
        writer.join(timeout=30)
    assert len(outcomes.tenduke) > 40 and len(outcomes.kosmos) > 20
    assert len(outcomes.failed) <= 8, outcomes.failed  # at most one in flight per writer on the killed process
    assert all("502" in failure for failure in outcomes.failed), outcomes.failed
    assert not [r for r in outcomes.refused if "already used" not in r], outcomes.refused

    with TenDukeClient(fleet.front, pair.private_pem) as reader:
        events = list(reader.read("scale", page_size=37))
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), "an event is stored twice"
    assert set(outcomes.tenduke) <= set(ids), "an acknowledged event was lost"
    received = [e["eventReceived"] for e in events]
    assert received == sorted(set(received)), "eventReceived is not strictly increasing"

    markers: list[str] = []
    with KosmosClient(fleet.front, LICENSE) as kosmos:
        for index in range(1000):
            page = kosmos.query_events("t", "c", page_size=50, page_index=index)
            markers += [e["id"] for e in page["data"]]
            if len(markers) >= page["page"]["total"] or not page["data"]:
                break
    assert len(markers) == len(set(markers)), "a 1Kosmos event is stored twice"
    assert set(outcomes.kosmos) <= set(markers), "an acknowledged 1Kosmos event was lost"


def test_a_request_id_is_accepted_by_one_process_only(fleet: Fleet) -> None:
    caller = kosmos_crypto.generate_keypair()
    server_key = httpx.get(f"{fleet.direct(0)}/events/publickeys").json()["publicKey"]
    key = kosmos_crypto.shared_key(caller.private_key, server_key)
    request_id = json.dumps({"ts": int(time.time()), "uuid": str(uuid.uuid4()), "appid": "scaling"})
    headers = {
        "publickey": caller.public_key,
        "licensekey": kosmos_crypto.encrypt(LICENSE, key),
        "requestid": kosmos_crypto.encrypt(request_id, key),
    }
    body = {"data": kosmos_crypto.encrypt(json.dumps({"type": "replayed"}), key)}
    path = "/events/tenant/t/community/c/event/E_REPLAY"
    first = httpx.put(fleet.direct(0) + path, headers=headers, json=body)
    assert first.status_code == 200, first.text
    for other in (1, 2):
        again = httpx.put(fleet.direct(other) + path, headers=headers, json=body)
        assert again.status_code == 401 and "already used" in again.json()["message"], again.text


def test_the_admin_api_through_nginx_needs_the_token(fleet: Fleet) -> None:
    anonymous = httpx.get(f"{fleet.front}/__admin/licenses", headers={"Host": "localhost"})
    assert anonymous.status_code == 401
    admin = httpx.get(f"{fleet.front}/__admin/licenses", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin.status_code == 200 and LICENSE in admin.text


def test_the_conformance_kit_passes_the_nginx_front(fleet: Fleet) -> None:
    kit = subprocess.run(
        [sys.executable, "-m", "eventdouble", "conform", "--target", fleet.front, "--provision-mock",
         "--admin-token", ADMIN_TOKEN, "--allow-destructive", "--seed", "7", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert kit.returncode == 0, kit.stdout[-4000:] + kit.stderr[-2000:]
    assert "VERDICT: PASSED" in kit.stdout


def test_nginx_lets_go_of_an_idle_connection_before_the_mock_closes_it() -> None:
    """Else nginx may send a request on a connection the mock is closing, and a POST gets 502."""
    from mockserver.serving import KEEPALIVE_SECONDS

    upstream = re.search(r"upstream eventdouble \{(.*?)\}", RECIPE.read_text(), re.S)
    assert upstream is not None
    timeout = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream.group(1), re.M)
    assert timeout is not None, "the upstream keeps nginx's default of 60 s"
    assert int(timeout.group(1)) < KEEPALIVE_SECONDS


@pytest.fixture
def nginx_front(served: str, tmp_path: Path) -> Iterator[str]:
    """The recipe's nginx in front of one served mock (each server mode and engine)."""
    _needs("nginx")
    port = int(served.rsplit(":", 1)[1])
    listen = _free_port()
    (tmp_path / "nginx").mkdir()
    nginx = _serve_recipe(tmp_path / "nginx", listen, [port] * PROCESSES)
    front = f"http://127.0.0.1:{listen}"
    try:
        _wait_for_front(nginx, front)
        yield front
    finally:
        _stop_nginx(nginx)


def test_refusals_before_the_body_keep_the_connection_through_nginx(nginx_front: str) -> None:
    """The mock refuses an over-limit body (413) or an unsigned one (400) before it needs it. nginx
    relays bodies as they arrive: had the mock answered before reading the rest, nginx would stop
    relaying, answer, then close the client's connection under its next request; had it closed
    with the body unread, nginx would answer 502. The kit's 413 check failed one run in four so."""
    over = b'{"data": "' + b"x" * (1024 * 1024 + 512 * 1024) + b'"}'
    path = "/events/tenant/t/community/c/event/E_THROUGH_NGINX"
    statuses = []
    with httpx.Client(base_url=nginx_front, timeout=30) as client:
        for _ in range(40):
            statuses.append(client.get("/events/no-such-route").status_code)
            statuses.append(client.put(path, content=over, headers={"Content-Type": "application/json"}).status_code)
    assert set(statuses[::2]) == {404}
    assert set(statuses[1::2]) <= {400, 413}, statuses
