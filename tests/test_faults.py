"""Issue 14, fault rules: set through the admin API, a seed file, --fault and MockServer; applied by
every worker; refusals in the API's own format with nothing stored."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from eventclient import KosmosClient, TenDukeClient
from eventclient.exceptions import KosmosApiError, TenDukeApiError
from mockserver import create_app, faults
from mockserver.inprocess import MockServer
from tests.conftest import KosmosSigner, TenDukeSigner, rsa_pair, stored_events, tenduke_events
from tests.servers import start_server, stop_server

# --- the admin API ---------------------------------------------------------------------------------


def test_a_rule_is_created_listed_and_removed(client: FlaskClient) -> None:
    created = client.post("/__admin/faults", json={"path": "^/put$", "method": "post", "status": 503})
    assert created.status_code == 201
    rule = created.json
    assert rule["method"] == "POST" and rule["matched"] == 0 and rule["fired"] == 0 and rule["id"]
    assert client.get("/__admin/faults").json == [rule]
    assert client.delete(f"/__admin/faults/{rule['id']}", content_type="application/json").status_code == 204
    assert client.get("/__admin/faults").json == []
    missing = client.delete(f"/__admin/faults/{rule['id']}", content_type="application/json")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"


@pytest.mark.parametrize(
    "rule, message",
    [
        ({"path": "("}, "body.path: not a regular expression"),
        ({"path": "x"}, "the rule does nothing"),
        ({"path": "x", "status": 503, "action": "reset"}, "not both"),
        ({"path": "x", "status": 200}, "less than the minimum of 400"),
        ({"path": "x", "delayMs": 10, "rate": 1.5}, "greater than the maximum of 1"),
        ({"path": "x", "action": "explode"}, "is not one of"),
        ({"path": "x", "delayMs": 10, "colour": "red"}, "Additional properties"),
    ],
)
def test_a_rule_that_cannot_work_is_refused(client: FlaskClient, rule: dict[str, Any], message: str) -> None:
    response = client.post("/__admin/faults", json=rule)
    assert response.status_code == 400
    assert message in response.json["message"]
    assert client.get("/__admin/faults").json == []


def test_reset_clears_the_rules(client: FlaskClient) -> None:
    client.post("/__admin/faults", json={"path": "healthz", "status": 500})
    assert client.post("/__admin/reset", content_type="application/json").status_code == 204
    assert client.get("/__admin/faults").json == []
    assert client.get("/events/healthz").status_code == 200


def test_the_admin_api_is_never_faulted(client: FlaskClient) -> None:
    rule = client.post("/__admin/faults", json={"path": ".*", "status": 503}).json
    assert client.get("/events/healthz").status_code == 503
    assert client.get("/__admin/licenses").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.delete(f"/__admin/faults/{rule['id']}", content_type="application/json").status_code == 204
    assert client.get("/events/healthz").status_code == 200


# --- what a rule does ------------------------------------------------------------------------------


def test_a_status_rule_refuses_a_good_1kosmos_put_in_its_format_and_stores_nothing(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    license_key = make_license()
    fields = {"path": "/event/", "api": "kosmos", "status": 503, "retryAfter": 3}
    rule = client.post("/__admin/faults", json=fields).json
    refused = signer.put_event(license_key)
    assert refused.status_code == 503
    assert refused.json == {"statusCode": 503, "error": "Service Unavailable", "message": refused.json["message"]}
    assert rule["id"] in refused.json["message"]
    assert refused.headers["Retry-After"] == "3"
    assert stored_events(client) == []
    client.delete(f"/__admin/faults/{rule['id']}", content_type="application/json")
    assert signer.put_event(license_key).status_code == 200
    assert len(stored_events(client)) == 1


def test_a_status_rule_refuses_a_good_10duke_put_in_its_format_and_stores_nothing(
    client: FlaskClient, tenduke: TenDukeSigner
) -> None:
    rule = client.post("/__admin/faults", json={"path": "^/put$", "status": 500, "message": "planned outage"}).json
    event = {"eventType": "x", "eventSourceId": "s"}
    refused = tenduke.put(event)
    assert refused.status_code == 500
    assert refused.json == {"error": "internal_server_error", "message": "planned outage"}
    assert tenduke_events(client) == []
    client.delete(f"/__admin/faults/{rule['id']}", content_type="application/json")
    assert tenduke.put(event).status_code == 200
    assert len(tenduke_events(client)) == 1


def test_only_matching_method_and_api_are_faulted(client: FlaskClient) -> None:
    client.post("/__admin/faults", json={"path": "^/events/", "method": "POST", "status": 500})
    client.post("/__admin/faults", json={"path": "healthz", "api": "tenduke", "status": 500})
    assert client.get("/events/healthz").status_code == 200
    assert client.post("/events/ecdsa_helper/encrypt", json={}).status_code == 500


def test_times_makes_a_burst_then_recovery(client: FlaskClient) -> None:
    client.post("/__admin/faults", json=faults.burst(3, 503, path="healthz"))
    assert [client.get("/events/healthz").status_code for _ in range(5)] == [503, 503, 503, 200, 200]
    (rule,) = client.get("/__admin/faults").json
    assert (rule["matched"], rule["fired"]) == (5, 3)


def test_a_seeded_rate_gives_the_same_sequence_every_time(client: FlaskClient) -> None:
    def sequence() -> list[int]:
        rule = client.post("/__admin/faults", json={"path": "healthz", "status": 500, "rate": 0.5, "seed": 42}).json
        statuses = [client.get("/events/healthz").status_code for _ in range(40)]
        client.delete(f"/__admin/faults/{rule['id']}", content_type="application/json")
        return statuses

    first = sequence()
    assert first == sequence()
    assert 8 <= first.count(500) <= 32, first  # about half; fixed by the seed, so this cannot flake


def test_rate_zero_never_fires_and_rate_one_always(client: FlaskClient) -> None:
    never = client.post("/__admin/faults", json={"path": "healthz", "status": 500, "rate": 0}).json
    assert all(client.get("/events/healthz").status_code == 200 for _ in range(10))
    client.delete(f"/__admin/faults/{never['id']}", content_type="application/json")
    client.post("/__admin/faults", json={"path": "healthz", "status": 500, "rate": 1})
    assert all(client.get("/events/healthz").status_code == 500 for _ in range(10))


def test_the_journal_names_the_rule_that_fired(client: FlaskClient) -> None:
    rule = client.post("/__admin/faults", json={"path": "healthz", "delayMs": 1, "times": 1}).json
    client.get("/events/healthz")
    client.get("/events/healthz")
    *_, fired, unfired = client.get("/__admin/journal", query_string={"api": "kosmos"}).json
    assert (fired["fault_id"], fired["status"]) == (rule["id"], 200)
    assert unfired["fault_id"] is None


def test_a_reset_rule_without_a_connection_to_drop_answers_503(client: FlaskClient) -> None:
    client.post("/__admin/faults", json={"path": "healthz", "action": "reset"})
    response = client.get("/events/healthz")  # the Flask test client has no socket
    assert response.status_code == 503
    assert "no connection to drop" in response.json["message"]


def test_an_older_journal_table_gets_the_fault_column(tmp_path: Path) -> None:
    database = tmp_path / "old.sqlite"
    with sqlite3.connect(database) as old:
        old.execute(
            "CREATE TABLE journal_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, method TEXT NOT "
            "NULL, path TEXT NOT NULL, status INTEGER NOT NULL, api TEXT, reason TEXT, request_id TEXT, "
            "license_key_id TEXT)"
        )
        old.execute("INSERT INTO journal_entries (time, method, path, status) VALUES (1, 'GET', '/old', 200)")
    client = create_app({"DATABASE": str(database)}).test_client()
    client.get("/events/healthz")
    entries = client.get("/__admin/journal").json
    assert [e["path"] for e in entries] == ["/old", "/events/healthz"]
    assert entries[0]["fault_id"] is None


# --- from Python -----------------------------------------------------------------------------------


def test_mock_server_adds_a_rule_for_a_block() -> None:
    with MockServer() as srv:
        with srv.fault(path="healthz", status=502) as rule:
            assert httpx.get(f"{srv.kosmos_url}/healthz").status_code == 502
            assert [r["id"] for r in srv.faults()] == [rule["id"]]
        assert srv.faults() == []
        assert httpx.get(f"{srv.kosmos_url}/healthz").status_code == 200
        added = srv.add_fault(faults.slow_page(10))
        srv.remove_fault(added["id"])
        with pytest.raises(KeyError):
            srv.remove_fault(added["id"])
        with pytest.raises(Exception, match="less than the minimum"):
            srv.add_fault(path="x", status=302)


# --- served: both server modes ---------------------------------------------------------------------


@pytest.fixture
def rule_of(served: str) -> Iterator[Any]:
    """Add rules to the served mock; each is removed after the test."""
    added: list[str] = []

    def add(**fields: Any) -> dict[str, Any]:
        response = httpx.post(f"{served}/__admin/faults", json=fields)
        assert response.status_code == 201, response.text
        added.append(response.json()["id"])
        return dict(response.json())

    yield add
    for rule_id in added:
        httpx.delete(f"{served}/__admin/faults/{rule_id}", headers={"Content-Type": "application/json"})


def _elapsed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_served_a_delay_rule_delays_only_matching_requests(served: str, rule_of: Any) -> None:
    rule_of(path="^/events/healthz$", delayMs=400)
    with httpx.Client(timeout=10) as http:
        slow = [_elapsed(lambda: http.get(f"{served}/events/healthz").raise_for_status()) for _ in range(3)]
        fast = [_elapsed(lambda: http.get(f"{served}/events/publickeys").raise_for_status()) for _ in range(3)]
    assert min(slow) >= 0.4
    assert max(fast) < 0.4


def test_served_a_status_rule_answers_in_the_api_format_and_stores_nothing(served: str, rule_of: Any) -> None:
    license_key = httpx.post(f"{served}/__admin/licenses", json={"authLevel": "system"}).json()["licenseKey"]
    pair = rsa_pair(2048, slot=3)
    httpx.post(f"{served}/__admin/tenduke/clients", json={"publicKeyPem": pair.public_pem})
    rule = rule_of(path="^/(put|events/tenant/)", status=503)
    marker = f"fault-{time.time_ns()}"
    with KosmosClient(served, license_key) as kosmos, TenDukeClient(served, pair.private_pem) as tenduke:
        with pytest.raises(KosmosApiError) as kosmos_refusal:
            kosmos.put_event("t", "c", marker, {"type": "event"})
        with pytest.raises(TenDukeApiError) as tenduke_refusal:
            tenduke.put({"eventType": marker, "eventSourceId": "s"})
    assert kosmos_refusal.value.status == 503 and kosmos_refusal.value.body["statusCode"] == 503  # type: ignore[index]
    assert tenduke_refusal.value.status == 503 and tenduke_refusal.value.body["error"] == "service_unavailable"  # type: ignore[index]

    def stored() -> tuple[int, int]:
        kosmos = httpx.get(f"{served}/__admin/events", params={"api": "kosmos", "eventName": marker}).json()
        tenduke = httpx.get(f"{served}/__admin/events", params={"api": "tenduke", "eventType": marker}).json()
        return len(kosmos), len(tenduke)

    assert stored() == (0, 0)
    httpx.delete(f"{served}/__admin/faults/{rule['id']}", headers={"Content-Type": "application/json"})
    with KosmosClient(served, license_key) as kosmos, TenDukeClient(served, pair.private_pem) as tenduke:
        kosmos.put_event("t", "c", marker, {"type": "event"})
        tenduke.put({"eventType": marker, "eventSourceId": "s"})
    assert stored() == (1, 1)


def test_served_a_seeded_rate_repeats_its_sequence(served: str, rule_of: Any) -> None:
    def sequence() -> list[int]:
        rule = rule_of(path="^/events/healthz$", status=500, rate=0.5, seed=7)
        with httpx.Client(timeout=10) as http:
            statuses = [http.get(f"{served}/events/healthz").status_code for _ in range(30)]
        httpx.delete(f"{served}/__admin/faults/{rule['id']}", headers={"Content-Type": "application/json"})
        return statuses

    first = sequence()
    assert first == sequence()
    assert 500 in first and 200 in first


def test_served_a_reset_rule_drops_the_connection_and_removing_it_restores(served: str, rule_of: Any) -> None:
    rule = rule_of(path="^/events/healthz$", action="reset")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{served}/events/healthz", timeout=5)
    httpx.delete(f"{served}/__admin/faults/{rule['id']}", headers={"Content-Type": "application/json"})
    assert httpx.get(f"{served}/events/healthz", timeout=5).status_code == 200
    for _ in range(30):  # the journal is written within 0.2 s by whichever worker served it
        dropped = [e for e in httpx.get(f"{served}/__admin/journal", params={"limit": 50}).json() if e["status"] == 0]
        if dropped:
            break
        time.sleep(0.1)
    assert dropped and dropped[-1]["fault_id"] == rule["id"]


# --- start-up: --fault and the seed file -----------------------------------------------------------


def test_serve_takes_fault_rules_from_the_command_line_and_the_seed(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("faults:\n  - {path: '^/events/publickeys$', status: 418}\n")
    db = str(tmp_path / "mock.sqlite")
    args = ["--db", db, "--seed", str(seed), "--fault", "burst=2:502", "--fault", '{"path": "^/put$", "delayMs": 5}']
    for run in range(2):  # a restart with the same options adds no second copy
        process, url, banner = start_server(*args)
        try:
            rules = httpx.get(f"{url}/__admin/faults").json()
            assert len(rules) == 3
            if run == 0:
                assert banner.count("seed: fault rule") == 3
                assert httpx.get(f"{url}/events/publickeys").status_code == 418
            else:
                assert "seed: fault rule" not in banner
        finally:
            stop_server(process)


@pytest.mark.parametrize(
    "value, message",
    [
        ("burst=x", "whole numbers"),
        ("{nope", "neither JSON nor a preset"),
        ("[1]", "a rule is a JSON object"),
        ('{"path": "x", "status": 99}', "less than the minimum of 400"),
    ],
)
def test_serve_refuses_a_bad_fault_option(tmp_path: Path, value: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eventdouble", "serve", "--db", str(tmp_path / "x.sqlite"), "--fault", value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_presets_are_rules_the_spec_accepts() -> None:
    from mockserver.spec import load_spec

    for rule in (faults.slow_page(), faults.burst()):
        load_spec("admin").check("/components/schemas/FaultRuleInput", rule, "preset")
    assert json.dumps(faults.burst(2, 429)) == '{"path": "^/get/", "status": 429, "times": 2}'
