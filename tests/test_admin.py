"""The admin API: licenses, stored events, the journal, reset, and switching it off."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from mockserver import create_app
from mockserver.db import SqliteDatabase
from mockserver.journal import Journal, JournalEntry
from tests.conftest import Clock, KosmosSigner, stored_events


def test_create_and_list_licenses(client: FlaskClient) -> None:
    created = client.post("/__admin/licenses", json={"authLevel": "community", "tenantId": "t", "communityId": "c"})
    assert created.status_code == 201
    record = created.json
    assert record["authLevel"] == "community"
    assert record["licenseKey"]
    assert record["disabled"] is False
    assert client.get("/__admin/licenses").json == [record]


def test_fixed_license_key_and_conflict(client: FlaskClient) -> None:
    body = {"authLevel": "system", "licenseKey": "team-license-0001"}
    assert client.post("/__admin/licenses", json=body).json["licenseKey"] == "team-license-0001"
    conflict = client.post("/__admin/licenses", json=body)
    assert conflict.status_code == 409
    assert conflict.json["error"] == "conflict"


@pytest.mark.parametrize(
    "body, message",
    [
        ({"authLevel": "tenant"}, "'tenantId' is a required property"),
        ({"authLevel": "community", "tenantId": "t"}, "'communityId' is a required property"),
        ({"authLevel": "root"}, "is not one of"),
        ({"authLevel": "system", "expiry": "tomorrow"}, "date-time"),
        ({"authLevel": "system", "extra": 1}, "Additional properties"),
        ({}, "'authLevel' is a required property"),
    ],
)
def test_license_input_is_validated(client: FlaskClient, body: dict[str, Any], message: str) -> None:
    response = client.post("/__admin/licenses", json=body)
    assert response.status_code == 400
    assert message in response.json["message"]
    assert client.get("/__admin/licenses").json == []


def test_disable_then_enable_a_license(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system")
    key_id = client.get("/__admin/licenses").json[0]["keyId"]
    assert client.patch(f"/__admin/licenses/{key_id}", json={"disabled": True}).json["disabled"] is True
    assert signer.put_event(license_key).status_code == 401
    client.patch(f"/__admin/licenses/{key_id}", json={"disabled": False})
    assert signer.put_event(license_key).status_code == 200
    assert client.patch("/__admin/licenses/nope", json={"disabled": True}).status_code == 404


def test_delete_license(client: FlaskClient, make_license: Any) -> None:
    make_license("system")
    key_id = client.get("/__admin/licenses").json[0]["keyId"]
    assert client.delete(f"/__admin/licenses/{key_id}").status_code == 204
    assert client.delete(f"/__admin/licenses/{key_id}").status_code == 404
    assert client.get("/__admin/licenses").json == []


def test_events_filters_and_order(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system")
    for tenant, name in [("a", "E1"), ("b", "E1"), ("a", "E2"), ("a", "E1")]:
        assert signer.put_event(license_key, tenant=tenant, name=name).status_code == 200
    assert [(e["tenant_id"], e["eventName"]) for e in stored_events(client)] == [
        ("a", "E1"), ("b", "E1"), ("a", "E2"), ("a", "E1"),
    ]  # fmt: skip
    assert len(client.get("/__admin/events?tenantId=a").json) == 3
    assert len(client.get("/__admin/events?tenantId=a&eventName=E1").json) == 2
    assert len(client.get("/__admin/events?communityId=c1&limit=2").json) == 2
    assert client.get("/__admin/events?api=nope").status_code == 400
    assert client.get("/__admin/events?limit=zero").status_code == 400


def test_journal_says_why_requests_were_refused(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system", disabled=True)
    signer.put_event(license_key)
    client.get("/events/healthz")
    journal = client.get("/__admin/journal?limit=2").json
    refused, ok = journal
    assert refused["status"] == 401
    assert refused["method"] == "PUT"
    assert refused["reason"] == "license is disabled"
    assert refused["api"] == "kosmos"
    assert ok["status"] == 200
    assert ok["reason"] is None


def test_reset_keeps_credentials_unless_all(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system")
    assert signer.put_event(license_key).status_code == 200
    public_key = client.get("/events/publickeys").json["publicKey"]
    assert client.post("/__admin/reset", json={}).status_code == 204
    assert stored_events(client) == []
    assert [e["path"] for e in client.get("/__admin/journal").json] == ["/__admin/reset", "/__admin/events"]
    assert client.get("/events/publickeys").json["publicKey"] == public_key
    assert signer.put_event(license_key).status_code == 200

    assert client.post("/__admin/reset?all=true", json={}).status_code == 204
    assert client.get("/__admin/licenses").json == []
    assert client.get("/events/publickeys").json["publicKey"] != public_key
    assert stored_events(client) == []


def test_admin_can_be_switched_off(clock: Clock) -> None:
    client = create_app({"DATABASE": ":memory:", "CLOCK": clock, "ADMIN_ENABLED": False}).test_client()
    response = client.get("/__admin/licenses")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    assert client.get("/events/healthz").status_code == 200


# --- 10Duke clients ---------------------------------------------------------------------------


def test_register_list_get_delete_tenduke_client(client: FlaskClient) -> None:
    from eventclient import jws
    from tests.conftest import rsa_pair

    pair = rsa_pair()
    created = client.post("/__admin/tenduke/clients", json={"publicKeyPem": pair.public_pem, "name": "billing"})
    assert created.status_code == 201
    record = created.json
    assert record["name"] == "billing"
    assert record["bits"] == 2048
    assert record["thumbprint"] == jws.thumbprint(jws.load_rsa_public_key(pair.public_pem))
    assert client.get("/__admin/tenduke/clients").json == [record]
    assert client.get(f"/__admin/tenduke/clients/{record['clientId']}").json == record
    again = client.post("/__admin/tenduke/clients", json={"publicKeyPem": pair.public_pem})
    assert again.status_code == 409
    assert client.delete(f"/__admin/tenduke/clients/{record['clientId']}").status_code == 204
    assert client.get(f"/__admin/tenduke/clients/{record['clientId']}").status_code == 404
    assert client.delete(f"/__admin/tenduke/clients/{record['clientId']}").status_code == 404


@pytest.mark.parametrize(
    "body, message",
    [
        ({"publicKeyPem": "not a pem"}, "not a PEM public key"),
        ({}, "'publicKeyPem' is a required property"),
        ({"publicKeyPem": "x", "extra": 1}, "Additional properties"),
    ],
)
def test_tenduke_client_input_is_validated(client: FlaskClient, body: dict[str, Any], message: str) -> None:
    response = client.post("/__admin/tenduke/clients", json=body)
    assert response.status_code == 400
    assert message in response.json["message"]
    assert client.get("/__admin/tenduke/clients").json == []


def test_tenduke_events_in_admin_and_reset(client: FlaskClient, clock: Clock) -> None:
    from tests.conftest import TenDukeSigner, tenduke_events

    signer = TenDukeSigner(client, clock)
    body = [{"eventSourceId": s, "eventType": t} for s, t in [("a", "x"), ("b", "x"), ("a", "y")]]
    assert signer.put(body).status_code == 200
    assert len(tenduke_events(client)) == 3
    assert [e["eventType"] for e in tenduke_events(client, eventSourceId="a")] == ["x", "y"]
    assert len(tenduke_events(client, eventType="x")) == 2
    client.post("/__admin/reset", json={})
    assert tenduke_events(client) == []
    assert len(client.get("/__admin/tenduke/clients").json) == 1
    client.post("/__admin/reset?all=true", json={})
    assert client.get("/__admin/tenduke/clients").json == []


# --- issue 12: the journal is in the database, filtered, and records what a refusal was about -----------


def test_the_journal_filters_by_status_and_api(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("community", tenantId="t1", communityId="c1")
    assert signer.put_event(license_key).status_code == 200
    assert signer.put_event(license_key, community="c2").status_code == 403
    assert client.get("/get/feed").status_code == 401
    refused = client.get("/__admin/journal?status=403").json
    assert [(e["status"], e["api"]) for e in refused] == [(403, "kosmos")]
    license_id = next(r["keyId"] for r in client.get("/__admin/licenses").json if r["licenseKey"] == license_key)
    assert refused[0]["license_key_id"] == license_id
    assert json.loads(refused[0]["request_id"])["appid"] == "tests"
    assert license_key not in json.dumps(client.get("/__admin/journal?limit=1000").json)
    assert {e["api"] for e in client.get("/__admin/journal?api=tenduke").json} == {"tenduke"}
    assert client.get("/__admin/journal?status=99").status_code == 400


def test_the_journal_keeps_the_newest_entries_only() -> None:
    from mockserver import create_app

    small = create_app({"DATABASE": ":memory:", "JOURNAL_SIZE": 5}).test_client()
    for n in range(12):
        small.get(f"/no-such-{n}")
    paths = [e["path"] for e in small.get("/__admin/journal?limit=100").json]
    assert paths == [f"/no-such-{n}" for n in range(7, 12)]


def test_a_journal_read_waits_for_entries_the_writer_thread_is_still_writing(tmp_path: Path) -> None:
    """The writer thread takes the pending entries, then writes them: a read in between must not miss them."""
    db = SqliteDatabase(str(tmp_path / "journal.sqlite"))
    journal = Journal(db)
    writing, go_on = threading.Event(), threading.Event()
    real_transaction = db.transaction

    @contextmanager
    def slow_transaction() -> Iterator[Any]:
        if threading.current_thread().name == "slow-writer":
            writing.set()
            go_on.wait(5)
        with real_transaction() as tx:
            yield tx

    db.transaction = slow_transaction  # type: ignore[method-assign]
    try:
        journal.record(JournalEntry(time.time(), "PUT", "/events/x", 200, "kosmos", None))
        writer = threading.Thread(target=journal.flush, name="slow-writer")
        writer.start()
        assert writing.wait(5)  # the entry is taken, not yet written
        threading.Timer(0.05, go_on.set).start()
        assert [e["path"] for e in journal.entries()] == ["/events/x"]
        writer.join(5)
    finally:
        go_on.set()
        db.close()
