"""The admin API: licenses, stored events, the journal, reset, and switching it off."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from mockserver import create_app
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
    assert client.post("/__admin/reset").status_code == 204
    assert stored_events(client) == []
    assert [e["path"] for e in client.get("/__admin/journal").json] == ["/__admin/reset", "/__admin/events"]
    assert client.get("/events/publickeys").json["publicKey"] == public_key
    assert signer.put_event(license_key).status_code == 200

    assert client.post("/__admin/reset?all=true").status_code == 204
    assert client.get("/__admin/licenses").json == []
    assert client.get("/events/publickeys").json["publicKey"] != public_key
    assert stored_events(client) == []


def test_admin_can_be_switched_off(clock: Clock) -> None:
    client = create_app({"DATABASE": ":memory:", "CLOCK": clock, "ADMIN_ENABLED": False}).test_client()
    response = client.get("/__admin/licenses")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    assert client.get("/events/healthz").status_code == 200
