"""The `eventdouble` command as a user runs it: serve, restart on the same --db, seed, keys."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventclient import kosmos_crypto
from eventdouble.cli import main
from tests.independent_kosmos import IndependentCaller
from tests.servers import launch_server, start_server, stop_server


@contextmanager
def serving(*args: str) -> Iterator[tuple[str, str]]:
    """Run `eventdouble serve --port 0 ARGS`; yield its base URL and what it printed before it listened."""
    process, url, banner = start_server(*args)
    try:
        yield url, banner
    finally:
        stop_server(process)


def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_serve_put_restart_keeps_everything(tmp_path: Path) -> None:
    db = str(tmp_path / "state.sqlite")
    with serving("--db", db) as (base, banner):
        license_key = re.search(r"development license: (\S+)", banner).group(1)
        assert call("GET", f"{base}/events/healthz")[0] == 200
        status, keys = call("GET", f"{base}/events/publickeys")
        server_public = keys["publicKey"]
        reports_public = call("GET", f"{base}/reports/publickeys")[1]["publicKey"]

        caller = IndependentCaller()
        key = caller.key_for(server_public)
        body = {"data": caller.seal(json.dumps({"type": "login", "epoch_time": 1700000000}), key)}
        status, _ = call(
            "PUT",
            f"{base}/events/tenant/t1/community/c1/event/E_LOGIN",
            body,
            caller.headers(server_public, license_key),
        )
        assert status == 200
        status, events = call("GET", f"{base}/__admin/events?api=kosmos")
        assert [e["type"] for e in events] == ["login"]
        status, page = call(
            "POST", f"{base}/reports/tenant/t1/community/c1/events", {}, caller.headers(reports_public, license_key)
        )
        assert status == 200
        assert page["data"] == events
        licenses = call("GET", f"{base}/__admin/licenses")[1]

    with serving("--db", db) as (base, banner):
        assert "development license" not in banner
        assert call("GET", f"{base}/events/publickeys")[1]["publicKey"] == server_public
        assert call("GET", f"{base}/reports/publickeys")[1]["publicKey"] == reports_public
        assert call("GET", f"{base}/__admin/licenses")[1] == licenses
        assert call("GET", f"{base}/__admin/events?api=kosmos")[1] == events
        caller = IndependentCaller()
        status, page = call(
            "POST", f"{base}/reports/tenant/t1/community/c1/events", {}, caller.headers(reports_public, license_key)
        )
        assert page["data"] == events


def test_seed_file_gives_fixed_credentials(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "licenses:\n"
        "  - {licenseKey: team-system-key-1, authLevel: system}\n"
        "  - {licenseKey: team-tenant-key-1, authLevel: tenant, tenantId: acme}\n"
    )
    db = str(tmp_path / "s.sqlite")
    with serving("--db", db, "--seed", str(seed)) as (base, banner):
        assert "license team-system-key-1 (system) created" in banner
        assert "development license" not in banner
        keys = sorted(r["licenseKey"] for r in call("GET", f"{base}/__admin/licenses")[1])
        assert keys == ["team-system-key-1", "team-tenant-key-1"]
    with serving("--db", db, "--seed", str(seed)) as (base, banner):  # idempotent
        assert "created" not in banner
        assert len(call("GET", f"{base}/__admin/licenses")[1]) == 2


def test_seed_registers_tenduke_clients(tmp_path: Path) -> None:
    from eventclient import jws
    from tests.conftest import rsa_pair

    pem = rsa_pair().public_pem
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"tendukeClients": [{"publicKeyPem": pem, "name": "billing"}]}))
    with serving("--db", str(tmp_path / "c.sqlite"), "--seed", str(seed)) as (base, banner):
        assert "10Duke client billing registered" in banner
        [client] = call("GET", f"{base}/__admin/tenduke/clients")[1]
        assert client["thumbprint"] == jws.thumbprint(jws.load_rsa_public_key(pem))
        token = jws.sign_jws({"eventSourceId": "s", "eventType": "t"}, rsa_pair().private_pem)
        request = urllib.request.Request(
            f"{base}/put", data=token.encode(), method="POST", headers={"Content-Type": "application/jose"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


def test_seed_with_weak_tenduke_key_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from eventclient import jws

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"tendukeClients": [{"publicKeyPem": jws.generate_rsa_keypair(1024).public_pem}]}))
    assert main(["serve", "--db", ":memory:", "--seed", str(seed)]) == 2
    assert "1024 bits" in capsys.readouterr().err


def test_seed_file_json_is_accepted(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"licenses": [{"licenseKey": "json-key-0001", "authLevel": "service"}]}))
    with serving("--db", ":memory:", "--seed", str(seed)) as (base, _):
        assert call("GET", f"{base}/__admin/licenses")[1][0]["licenseKey"] == "json-key-0001"


@pytest.mark.parametrize(
    "content, message",
    [
        ("licenses: [{authLevel: system}]", "'licenseKey' is a required property"),
        ("licenses: [{licenseKey: abcdefgh, authLevel: tenant}]", "'tenantId' is a required property"),
        ("users: []", "Additional properties"),
        ("licenses: [", "not YAML or JSON"),
    ],
)
def test_bad_seed_file_is_reported_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(content)
    assert main(["serve", "--db", ":memory:", "--seed", str(seed)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_missing_seed_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--seed", "/no/such/seed.yaml"]) == 2
    assert "cannot read seed file" in capsys.readouterr().err


def test_port_in_use_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serving("--db", ":memory:") as (base, _):
        port = base.rsplit(":", 1)[1]
        assert main(["serve", "--db", ":memory:", "--port", port]) == 2
        assert "cannot listen" in capsys.readouterr().err


def test_unwritable_db_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--db", "/no/such/dir/x.sqlite"]) == 2
    assert "cannot open database" in capsys.readouterr().err


def test_keys_kosmos_prints_a_working_pair(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "kosmos", "--json"]) == 0
    pair = json.loads(capsys.readouterr().out)
    private = kosmos_crypto.load_private_key(pair["privateKey"])
    assert kosmos_crypto.encode_public_key(private.public_key()) == pair["publicKey"]


def test_keys_tenduke_prints_a_pem_pair(capsys: pytest.CaptureFixture[str]) -> None:
    from eventclient import jws

    assert main(["keys", "tenduke", "--json"]) == 0
    pair = json.loads(capsys.readouterr().out)
    token = jws.sign_jws({"a": 1}, pair["privateKeyPem"])
    assert jws.verify_jws(token, [("k", jws.load_rsa_public_key(pair["publicKeyPem"]))]).payload == b'{"a":1}'
    assert main(["keys", "tenduke"]) == 0
    out = capsys.readouterr().out
    assert "BEGIN PRIVATE KEY" in out
    assert "BEGIN PUBLIC KEY" in out
    assert main(["keys", "tenduke", "--bits", "1024"]) == 2
    assert "at least 2048" in capsys.readouterr().err


def test_help_explains(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "--db" in out
    assert "SQLite" in out


def test_env_settings_are_read(tmp_path: Path) -> None:
    env = {**os.environ, "EVENTDOUBLE_ALLOWED_TIME_SPAN": "120"}
    from mockserver import create_app

    os.environ.update(env)
    try:
        app = create_app({"DATABASE": ":memory:"})
    finally:
        del os.environ["EVENTDOUBLE_ALLOWED_TIME_SPAN"]
    assert app.test_client().get("/events/environment").json["allowed_time_span"] == 120


def test_processes_starting_together_share_one_service_key(tmp_path: Path) -> None:
    """Several processes opening a fresh database at once must agree on one service key."""
    db = str(tmp_path / "race.sqlite")
    code = (
        "import sys; from mockserver.backend import Backend; import time; "
        "print(Backend.open(sys.argv[1], time.time).kosmos.primary_key().public_key)"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code, db], stdout=subprocess.PIPE, text=True) for _ in range(8)
    ]
    keys = {p.communicate(timeout=30)[0].strip() for p in processes}
    assert len(keys) == 1


def test_switching_to_wal_is_tried_again_when_another_process_switches_it_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race above, made certain: SQLite refuses the switch at once ("database is locked", no busy
    wait) while another connection upgrades its lock; seen once in CI with 8 processes."""
    import sqlite3

    from mockserver import db as engine

    refusals = []

    class Contended:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def execute(self, sql: str, *args: Any) -> Any:
            if sql == "PRAGMA journal_mode=WAL" and len(refusals) < 3:
                refusals.append(sql)
                raise sqlite3.OperationalError("database is locked")
            return self._conn.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

    real_connect = sqlite3.connect
    monkeypatch.setattr(engine.sqlite3, "connect", lambda *a, **k: Contended(real_connect(*a, **k)))
    database = engine.SqliteDatabase(str(tmp_path / "contended.sqlite"))
    try:
        assert len(refusals) == 3
        assert database.query("PRAGMA journal_mode")[0][0] == "wal"
    finally:
        database.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2", "--db", ":memory:"], "needs a database file"),
    ],
)
def test_bad_worker_options_are_reported(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["serve", *args]) == 2
    assert message in capsys.readouterr().err


def test_port_in_use_is_reported_with_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert main(["serve", "--db", str(tmp_path / "w.sqlite"), "--port", port, "--workers", "2"]) == 2
    assert "cannot listen on" in capsys.readouterr().err


def test_rate_limit_option(tmp_path: Path) -> None:
    with serving("--db", str(tmp_path / "r.sqlite"), "--rate-limit", "2/60") as (base, banner):
        license_key = banner.split("development license: ")[1].split()[0]
        statuses = [httpx.get(f"{base}/events/healthz", headers={"licensekey": license_key}).status_code
                    for _ in range(3)]  # fmt: skip
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("value", ["x", "0", "5/0", "5/abc"])
def test_bad_rate_limit_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--rate-limit", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "N/SECONDS" in err or "at least 1" in err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_worker_processes_serve_and_keep_connections(tmp_path: Path, workers: str) -> None:
    """Any --workers, 1 included (one per core), is worker processes; without it, one threaded process."""
    with serving("--db", str(tmp_path / "t.sqlite"), "--workers", workers) as (base, banner):
        assert f"{workers} worker process(es)" in banner
        with httpx.Client() as http:  # one connection, kept alive by the workers
            answers = [http.get(f"{base}/events/healthz") for _ in range(5)]
        assert {a.status_code for a in answers} == {200}
        assert {a.headers.get("connection", "keep-alive").lower() for a in answers} == {"keep-alive"}


def test_without_workers_one_threaded_process_serves(tmp_path: Path) -> None:
    with serving("--db", str(tmp_path / "t.sqlite")) as (base, banner):
        assert "one process" in banner and "worker process" not in banner
        assert httpx.get(f"{base}/events/healthz").status_code == 200


def test_workers_need_a_database_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--db", ":memory:", "--workers", "1"]) == 2
    assert "--workers needs a database file" in capsys.readouterr().err


def test_a_database_file_keeps_a_write_ahead_log_checkpointed_in_large_steps(tmp_path: Path) -> None:
    from mockserver.db import WAL_CHECKPOINT_PAGES, WAL_SIZE_LIMIT, SqliteDatabase

    db = SqliteDatabase(str(tmp_path / "wal.sqlite"))
    assert db.query("PRAGMA journal_mode")[0][0] == "wal"
    assert db.query("PRAGMA wal_autocheckpoint")[0][0] == WAL_CHECKPOINT_PAGES > 1000
    assert db.query("PRAGMA journal_size_limit")[0][0] == WAL_SIZE_LIMIT
    db.close()


def test_database_file_is_private(tmp_path: Path) -> None:
    """Issue 11, finding 14: the file holds the service private key and the license keys."""
    from mockserver.db import SqliteDatabase

    path = tmp_path / "mock.sqlite"
    SqliteDatabase(str(path)).close()
    assert path.stat().st_mode & 0o777 == 0o600


# --- issue 11 finding 15: settings validated at start, one line and no traceback -----------------------


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventdouble", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        input=stdin,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EVENTDOUBLE_ALLOWED_TIME_SPAN", "abc"),
        ("EVENTDOUBLE_ALLOWED_TIME_SPAN", "-5"),
        ("EVENTDOUBLE_REPLAY_PROTECTION", "maybe"),
        ("EVENTDOUBLE_SQLITE_SYNCHRONOUS", "sometimes"),
        ("EVENTDOUBLE_MAX_CONTENT_LENGTH", "1e9"),
        ("EVENTDOUBLE_RATE_LIMIT_WINDOW", "0"),
    ],
)
def test_a_bad_setting_stops_the_mock_at_start_in_one_line(tmp_path: Path, name: str, value: str) -> None:
    result = run_cli("serve", "--db", str(tmp_path / "m.sqlite"), "--port", "0", env={name: value})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert name.removeprefix("EVENTDOUBLE_") in result.stderr


def test_environment_settings_are_not_overridden_by_the_command_line_defaults(tmp_path: Path) -> None:
    db = tmp_path / "from-env.sqlite"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EVENTDOUBLE_DATABASE", str(db))
        env.setenv("EVENTDOUBLE_ADMIN_ENABLED", "false")
        env.setenv("EVENTDOUBLE_FAULTS", "accept_replays")
        process, url, banner = start_server()
    try:
        assert f"database: {db}" in banner
        assert "/__admin" not in banner
        assert httpx.get(f"{url}/__admin/licenses").status_code == 404
        assert db.exists()
    finally:
        stop_server(process)


def test_an_unknown_variable_is_named_not_obeyed(tmp_path: Path) -> None:
    missing_seed = str(tmp_path / "no-such-seed.yaml")  # stops right after the settings are read
    result = run_cli("serve", "--seed", missing_seed, env={"EVENTDOUBLE_FAULTS": "x"})
    assert "EVENTDOUBLE_FAULTS is not a setting" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "99999"],
        ["serve", "--port", "http"],
        ["serve", "--workers", "0"],
        ["send", "tenduke", "--base", "http://127.0.0.1:9", "--key", "k.pem", "--events", "[]", "--batch-size", "0"],
    ],
)
def test_bad_options_are_one_line_without_a_traceback(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("eventdouble")


def test_output_into_a_closed_pipe_ends_quietly() -> None:
    shell = f"{sys.executable} -m eventdouble keys tenduke --bits 2048 | head -1"
    result = subprocess.run(shell, shell=True, capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("-----BEGIN")
    assert result.stderr == "", result.stderr


def test_ctrl_c_during_a_command_is_one_line(tmp_path: Path) -> None:
    from eventclient import jws

    key = tmp_path / "client.pem"
    key.write_text(jws.generate_rsa_keypair(2048).private_pem)
    with socket.socket() as silent:  # accepts the connection, never answers: the client waits
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        event = '{"eventSourceId": "s", "eventType": "t"}'
        process = subprocess.Popen(
            [sys.executable, "-m", "eventdouble", "send", "tenduke", "--base", base, "--key", str(key),
             "--events", event],
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        time.sleep(3)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in err and "interrupted" in err


def test_an_ipv6_host_is_printed_as_a_valid_url(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        process, url, banner = start_server("--host", "::1", "--db", str(tmp_path / "v6.sqlite"))
    except AssertionError as exc:
        pytest.skip(f"cannot listen on ::1 here: {exc}")
    try:
        assert url.startswith("http://[::1]:")
        assert httpx.get(f"{url}/events/healthz").status_code == 200
        assert f"{url}/docs" in banner and f"{url}/__admin/ui" in banner
    finally:
        stop_server(process)


# --- issue 12 item 7: logs people can read ------------------------------------------------------------


@pytest.mark.parametrize("mode", [[], ["--workers", "2"]], ids=["one process", "2 workers"])
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_access_log_lines_have_time_and_level_no_colours_and_a_clean_stop(
    tmp_path: Path, mode: list[str], stop: signal.Signals
) -> None:
    process, url, _ = launch_server("--db", str(tmp_path / "l.sqlite"), "--access-log", *mode)
    assert httpx.get(f"{url}/events/healthz").status_code == 200
    assert httpx.get(f"{url}/no-such-page").status_code == 404
    time.sleep(0.5)
    process.send_signal(stop)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    access = [line for line in output.splitlines() if "/no-such-page" in line]
    assert len(access) == 1, output
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} INFO \S+access: 127\.0\.0\.1 \"GET /no-such-page", access[0]
    )
    assert "\x1b[" not in output and "Traceback" not in output and "Warning" not in output, output
    assert output.rstrip().splitlines()[-1] == "eventdouble: stopped", output
