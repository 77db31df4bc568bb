"""`eventdouble send` and `eventdouble read` against the in-process mock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventdouble.cli import main
from mockserver import MockServer
from tests.conftest import rsa_pair


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture
def key_file(srv: MockServer, tmp_path: Path) -> Path:
    pair = rsa_pair()
    srv.register_tenduke_client(pair.public_pem)
    path = tmp_path / "client.pem"
    path.write_text(pair.private_pem + pair.public_pem)
    return path


def test_send_kosmos(srv: MockServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    license_key = srv.create_license()["licenseKey"]
    data = tmp_path / "event.json"
    data.write_text('{"type": "login", "user": "ann"}')
    args = ["send", "kosmos", "--base", srv.url, "--license", license_key, "--tenant", "t", "--community", "c"]
    assert main([*args, "--event", "E_LOGIN", "--data", f"@{data}"]) == 0
    assert "stored E_LOGIN" in capsys.readouterr().out
    assert srv.events()[0]["user"] == "ann"
    assert main([*args, "--event", "E", "--data", '{"type": "plain"}', "--plain"]) == 0
    assert srv.events()[-1]["type"] == "plain"


def test_send_kosmos_refused_and_bad_input(srv: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["send", "kosmos", "--base", srv.url, "--tenant", "t", "--community", "c", "--event", "E"]
    assert main([*args, "--license", "nope", "--data", '{"type": "x"}']) == 1
    assert "refused the request: 401" in capsys.readouterr().err
    assert main([*args, "--license", "nope", "--data", "{not json"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main([*args, "--license", "nope", "--data", "@/no/such/file"]) == 2
    assert "cannot read data file" in capsys.readouterr().err


def test_wrong_url_is_a_clear_message(capsys: pytest.CaptureFixture[str], key_file: Path) -> None:
    assert main(["send", "tenduke", "--base", "http://127.0.0.1:9", "--key", str(key_file), "--events", "{}"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach" in err
    assert "Traceback" not in err


def test_missing_or_bad_key_file(srv: MockServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["send", "tenduke", "--base", srv.url, "--key", "/no/key.pem", "--events", "{}"]) == 2
    assert "cannot read key file" in capsys.readouterr().err
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    assert main(["read", "tenduke", "app", "--base", srv.url, "--key", str(bad)]) == 2
    assert "no usable RSA private key" in capsys.readouterr().err


def test_refused_signature_is_a_clear_message(
    srv: MockServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.pem"
    stranger.write_text(rsa_pair(slot=5).private_pem)
    event = '{"eventSourceId": "app", "eventType": "x"}'
    assert main(["send", "tenduke", "--base", srv.url, "--key", str(stranger), "--events", event]) == 1
    assert "401 invalid_signature" in capsys.readouterr().err


def test_send_10000_json_lines_then_read_them_all(
    srv: MockServer, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text(
        "".join(json.dumps({"eventSourceId": "bulk", "eventType": "t", "n": i}) + "\n" for i in range(10000))
    )
    assert main(["send", "tenduke", "--base", srv.url, "--key", str(key_file), "--events", f"@{lines}"]) == 0
    assert "sent 10000 event(s)" in capsys.readouterr().out
    out = tmp_path / "read.jsonl"
    assert main(["read", "tenduke", "bulk", "--base", srv.url, "--key", str(key_file), "--output", str(out)]) == 0
    assert "read 10000 event(s)" in capsys.readouterr().err
    read = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["n"] for e in read] == list(range(10000))


def test_send_json_array_file_and_read_to_stdout(
    srv: MockServer, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    array = tmp_path / "events.json"
    array.write_text(json.dumps([{"eventSourceId": "arr", "eventType": "t", "n": i} for i in range(5)]))
    assert (
        main(
            ["send", "tenduke", "--base", srv.url, "--key", str(key_file), "--events", f"@{array}", "--batch-size", "2"]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["read", "tenduke", "arr", "--base", srv.url, "--key", str(key_file)]) == 0
    assert [json.loads(line)["n"] for line in capsys.readouterr().out.splitlines()] == list(range(5))


def test_bad_json_line_names_the_line(
    srv: MockServer, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text('{"eventSourceId": "a", "eventType": "t"}\n{oops\n')
    assert main(["send", "tenduke", "--base", srv.url, "--key", str(key_file), "--events", f"@{lines}"]) == 2
    assert "line 2 is not valid JSON" in capsys.readouterr().err


# --- issue 12 item 8 ------------------------------------------------------------------------------------


def test_read_kosmos_pages_through_the_query(
    srv: MockServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    license_key = srv.create_license()["licenseKey"]
    send = ["send", "kosmos", "--base", srv.url, "--license", license_key, "--tenant", "t", "--community", "c"]
    for n in range(7):
        assert main([*send, "--event", "E_READ", "--data", json.dumps({"type": "x", "n": n})]) == 0
    assert main([*send, "--event", "E_OTHER", "--data", '{"type": "y"}']) == 0
    capsys.readouterr()
    out = tmp_path / "events.jsonl"
    read = ["read", "kosmos", "--base", srv.url, "--license", license_key, "--tenant", "t", "--community", "c"]
    assert main([*read, "--event", "E_READ", "--page-size", "3", "--output", str(out)]) == 0
    assert [json.loads(line)["n"] for line in out.read_text().splitlines()] == list(range(7))
    assert "read 7 event(s)" in capsys.readouterr().err
    assert main([*read, "--page-size", "100"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 8
    assert main(["read", "kosmos", "--base", srv.url, "--license", "nope", "--tenant", "t", "--community", "c"]) == 1


def test_register_tenduke_from_a_private_or_public_key(
    srv: MockServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from eventclient import jws

    pair = jws.generate_rsa_keypair(2048)
    private, public = tmp_path / "client.pem", tmp_path / "client.pub"
    private.write_text(pair.private_pem)
    public.write_text(pair.public_pem)
    assert main(["register", "tenduke", "--base", srv.url, "--key", str(private), "--name", "cli"]) == 0
    assert "registered client" in capsys.readouterr().out
    assert [record.name for record in srv.backend.tenduke.clients()] == ["cli"]
    # the same key again, from its public half: said, not an error
    assert main(["register", "tenduke", "--base", srv.url, "--key", str(public)]) == 0
    assert "already registered" in capsys.readouterr().err
    events = tmp_path / "e.json"
    events.write_text('[{"eventSourceId": "s", "eventType": "t"}]')
    assert main(["send", "tenduke", "--base", srv.url, "--key", str(private), "--events", f"@{events}"]) == 0
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    assert main(["register", "tenduke", "--base", srv.url, "--key", str(junk)]) == 2


def test_a_wrong_url_prefix_exits_2(srv: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    license_key = srv.create_license()["licenseKey"]
    args = ["--license", license_key, "--tenant", "t", "--community", "c", "--event", "E", "--data", '{"type": "x"}']
    assert main(["send", "kosmos", "--base", f"{srv.url}/wrong/prefix", *args]) == 2
    err = capsys.readouterr().err
    assert "is --base the server root?" in err and "Traceback" not in err
    assert srv.events() == []
