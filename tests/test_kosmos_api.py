"""HTTP-level tests of the 1Kosmos mock through the Flask test client.

Every refusal in the design's error table is sent here and must come back with its status and
the vendor's JSON body, and must store nothing.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventclient import kosmos_crypto
from mockserver import create_app
from mockserver.backend import backend_of
from mockserver.kosmos.events import format_time
from tests.conftest import Clock, KosmosSigner, stored_events
from tests.independent_kosmos import IndependentCaller

EVENT_URL = "/events/tenant/t1/community/c1/event/E_LOGIN_ATTEMPT"
VENDOR_PRIVATE = "q10WnF32y2ViAbHJfv7kGwU+6vinvZPFOqerTQeyygw="
VENDOR_PUBLIC = "vU4Z0bJomXZlhQ97q+8PQQIqwMAsQI/wjWmeG/aLbpIn+fjiVtvHvdq6FzOsNFVgblyVvT2H4R+/y0KjiL3hAA=="


def assert_refused(response: Any, status: int, message_part: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    if response.request.path.startswith("/reports/"):  # the reports service's own envelope
        [error] = body["errors"]
        assert set(body) == {"errors"} and set(error) == {"message", "param"}
        assert message_part in f"{error['param']}: {error['message']}"
        return
    assert set(body) == {"statusCode", "error", "message"}
    assert body["statusCode"] == status
    assert body["error"] == {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}[status]
    assert message_part in body["message"]


# --- open endpoints ---------------------------------------------------------------------------


def test_publickeys_and_healthz_agree(client: FlaskClient) -> None:
    public_key = client.get("/events/publickeys").json["publicKey"]
    kosmos_crypto.load_public_key(public_key)
    health = client.get("/events/healthz").json
    assert health["publicKey"] == public_key
    assert health["status"] == "all services operational"
    assert health["code"] == "200"
    assert "syntheticheartbeatId" not in health
    assert health["version"].count(".") >= 2


def test_healthz_synthetic_heartbeat(client: FlaskClient) -> None:
    assert client.get("/events/healthz", headers={"synthetic-heartbeat": "1"}).json["syntheticheartbeatId"]


def test_optional_plain_license_is_checked(client: FlaskClient, make_license: Any) -> None:
    good = make_license("system")
    assert client.get("/events/environment", headers={"licensekey": good}).status_code == 200
    assert_refused(client.get("/events/environment", headers={"licensekey": "nope-nope"}), 401, "License")
    assert_refused(client.get("/events/healthz", headers={"licensekey": "nope-nope"}), 401, "License")


def test_environment_and_sd(client: FlaskClient) -> None:
    env = client.get("/events/environment").json
    assert env["EC_CURVE_NAME"] == "secp256k1"
    assert env["allowed_time_span"] == 60
    sd = client.get("/events/sd").json
    assert sd["events"] == "http://localhost/events"
    assert sd["reports"] == "http://localhost/reports"


# --- a signed PUT -----------------------------------------------------------------------------


def test_put_signed_by_independent_implementation_is_stored(client: FlaskClient, make_license: Any) -> None:
    license_key = make_license("community", tenantId="t1", communityId="c1")
    caller = IndependentCaller()
    server_public = client.get("/events/publickeys").json["publicKey"]
    headers = caller.headers(server_public, license_key)
    body = {"data": caller.seal(json.dumps({"type": "login", "user": "ann"}), caller.key_for(server_public))}
    response = client.put(EVENT_URL, headers=headers, json=body)
    assert response.status_code == 200, response.json
    assert response.get_data() == b""
    echoed = json.loads(response.headers["requestid"])
    assert echoed["appid"] == "independent"
    [event] = stored_events(client)
    assert event["type"] == "login"
    assert event["user"] == "ann"
    assert event["tenant_id"] == "t1"
    assert event["community_id"] == "c1"
    assert event["eventName"] == "E_LOGIN_ATTEMPT"
    assert event["request_id"] == echoed["uuid"]
    assert event["appid"] == "independent"
    assert isinstance(event["event_ts"], int)


@pytest.mark.parametrize(
    "spelling",
    [
        lambda rid: json.dumps(rid, indent=2),  # pretty-printed: newlines
        lambda rid: json.dumps(rid).replace(", ", ",\r\n"),  # CR LF between members
        lambda rid: json.dumps({**rid, "appid": "日本"}, ensure_ascii=False),  # raw UTF-8, as Node sends it
        lambda rid: json.dumps({**rid, "appid": "\u0007 and \u001f"}),  # control characters
    ],
    ids=["newlines", "CR LF", "raw UTF-8", "control characters"],
)
def test_any_request_id_spelling_is_echoed_as_a_valid_header(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, spelling: Any
) -> None:
    """Found by the hostile-input review (issue 11): the event was stored, then the echo made a 500."""
    license_key = make_license("system")
    text = spelling(signer.request_id())
    headers = {**signer.headers(license_key), "requestid": kosmos_crypto.encrypt(text, signer.key)}
    response = client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "login"})})
    assert response.status_code == 200, response.json
    echoed = response.headers["requestid"]
    assert echoed.isascii() and "\n" not in echoed and "\r" not in echoed
    assert json.loads(echoed) == json.loads(text)
    assert len(stored_events(client)) == 1
    key_id = client.get("/events/servicekeys", headers=signer.headers(license_key)).json[0]["keyId"]
    headers = {
        **signer.headers(license_key),
        "requestid": kosmos_crypto.encrypt(spelling(signer.request_id()), signer.key),
    }
    reset = client.delete(f"/events/servicekey/{key_id}", headers=headers)
    assert reset.status_code == 200 and reset.json["keyId"] == key_id
    assert json.loads(reset.headers["requestid"])["uuid"]


def test_plain_data_object_is_accepted(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system")
    body = {"data": {"type": "event", "timestamp": "2023-02-14 15:00:00.000"}}
    response = client.put(EVENT_URL, headers=signer.headers(license_key), json=body)
    assert response.status_code == 200
    [event] = stored_events(client)
    assert event["event_ts"] == 1676386800000
    assert event["epoch_time"] == 1676386800


def test_epoch_time_wins_and_defaults_fill_in(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system")
    assert signer.put_event(license_key, epoch_time=1318781876).status_code == 200
    assert signer.put_event(license_key).status_code == 200
    first, second = stored_events(client)
    assert first["event_ts"] == 1318781876000
    assert first["timestamp"] == "2011-10-16 16:17:56.000"
    assert abs(second["event_ts"] - signer.clock.now * 1000) < 1000


def test_header_names_are_case_insensitive_and_camel_app_id_accepted(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    license_key = make_license("system")
    request_id = signer.request_id(appId="camel")
    del request_id["appid"]
    headers = signer.headers(license_key, request_id)
    headers = {
        "publicKey": headers["publickey"],
        "LicenseKey": headers["licensekey"],
        "requestId": headers["requestid"],
    }
    response = client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "x"})})
    assert response.status_code == 200, response.json
    assert stored_events(client)[0]["appid"] == "camel"


# --- refusals: 400 ------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["publickey", "licensekey", "requestid"])
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_missing_or_empty_header(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, missing: str, how: str
) -> None:
    headers = signer.headers(make_license("system"))
    if how == "absent":
        del headers[missing]
    else:
        headers[missing] = " "
    response = client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "x"})})
    assert_refused(response, 400, f"{missing}: This header should not be empty")
    assert stored_events(client) == []


@pytest.mark.parametrize("header", ["licensekey", "requestid"])
@pytest.mark.parametrize(
    "spoil",
    [
        lambda v: "not base64 at all",
        lambda v: v[:20],  # truncated
        lambda v: base64.b64encode(bytes([b ^ 1 for b in base64.b64decode(v)])).decode(),  # every bit flipped
        lambda v: kosmos_crypto.encrypt("x", bytes(32)),  # another key
    ],
    ids=["non-base64", "truncated", "tampered", "wrong key"],
)
def test_header_that_does_not_decrypt(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, header: str, spoil: Any
) -> None:
    headers = signer.headers(make_license("system"))
    headers[header] = spoil(headers[header])
    response = client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "x"})})
    assert_refused(response, 400, f"{header}: This header can't be decrypted")
    assert stored_events(client) == []


@pytest.mark.parametrize(
    "public_key",
    [
        "!!!",
        base64.b64encode(b"\x01" * 64).decode(),  # not on the curve
        base64.b64encode(b"\x02" * 10).decode(),
        "A" * 4000,  # long, but under the header size limit (tests/test_limits.py has the 431)
    ],
    ids=["non-base64", "off-curve", "short", "long"],
)
def test_invalid_public_key(client: FlaskClient, signer: KosmosSigner, make_license: Any, public_key: str) -> None:
    headers = signer.headers(make_license("system"))
    headers["publickey"] = public_key
    response = client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "x"})})
    assert_refused(response, 400, "publickey")
    assert stored_events(client) == []


def test_headers_for_another_service_key_do_not_decrypt(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    """Encrypting to a key that is not the service's is the same as tampering."""
    license_key = make_license("system")
    other = kosmos_crypto.generate_keypair()
    key = kosmos_crypto.shared_key(signer.pair.private_key, other.public_key)
    headers = {
        "publickey": signer.pair.public_key,
        "licensekey": kosmos_crypto.encrypt(license_key, key),
        "requestid": kosmos_crypto.encrypt(json.dumps(signer.request_id()), key),
    }
    assert_refused(client.put(EVENT_URL, headers=headers, json={"data": {"type": "x"}}), 400, "can't be decrypted")


@pytest.mark.parametrize(
    "request_id",
    [
        "not json",
        "[1, 2]",
        '{"uuid": "7f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8", "appid": "a"}',
        '{"ts": "now", "uuid": "7f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8", "appid": "a"}',
        '{"ts": 1, "uuid": "not-a-uuid", "appid": "a"}',
        '{"ts": 1, "uuid": "7f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8"}',
    ],
    ids=["not json", "array", "no ts", "ts string", "bad uuid", "no appid"],
)
def test_malformed_request_id(client: FlaskClient, signer: KosmosSigner, make_license: Any, request_id: str) -> None:
    headers = signer.headers(make_license("system"))
    headers["requestid"] = kosmos_crypto.encrypt(request_id, signer.key)
    assert_refused(client.put(EVENT_URL, headers=headers, json={"data": {"type": "x"}}), 400, "requestid")
    assert stored_events(client) == []


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"no_type": 1}},
        {"data": {"type": 5}},
        {"data": 5},
        {"nodata": {}},
        [1, 2],
        {"data": {"type": "x", "timestamp": "yesterday-ish"}},
        {"data": {"type": "x", "epoch_time": 1e300}},
    ],
    ids=["no type", "type not string", "data number", "no data", "array", "bad timestamp", "huge epoch"],
)
def test_body_that_fails_the_schema(client: FlaskClient, signer: KosmosSigner, make_license: Any, body: Any) -> None:
    response = client.put(EVENT_URL, headers=signer.headers(make_license("system")), json=body)
    assert_refused(response, 400, "data" if body != [1, 2] else "body")
    assert stored_events(client) == []


def test_encrypted_body_without_type_fails_the_schema(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    body = {"data": signer.seal({"user": "x"})}
    response = client.put(EVENT_URL, headers=signer.headers(make_license("system")), json=body)
    assert_refused(response, 400, "data: 'type' is a required property")
    assert stored_events(client) == []


@pytest.mark.parametrize(
    "data",
    [lambda s: "garbage", lambda s: kosmos_crypto.encrypt('{"type": "x"}', bytes(32)), lambda s: s.seal("[1]")[:-4]],
    ids=["garbage", "wrong key", "truncated"],
)
def test_body_that_does_not_decrypt(client: FlaskClient, signer: KosmosSigner, make_license: Any, data: Any) -> None:
    response = client.put(EVENT_URL, headers=signer.headers(make_license("system")), json={"data": data(signer)})
    assert_refused(response, 400, "data")
    assert stored_events(client) == []


def test_body_not_json(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    headers = {**signer.headers(make_license("system")), "Content-Type": "application/json"}
    assert_refused(client.put(EVENT_URL, headers=headers, data=b"{not json"), 400, "not valid JSON")
    assert stored_events(client) == []


# --- refusals: 401 --------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-61, 61, -3600, 10**9], ids=["61s old", "61s ahead", "1h old", "far future"])
def test_stale_or_future_request_id(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, clock: Clock, offset: int
) -> None:
    headers = signer.headers(make_license("system"), signer.request_id(ts=clock.now + offset))
    assert_refused(client.put(EVENT_URL, headers=headers, json={"data": {"type": "x"}}), 401, "requestid: ts")
    assert stored_events(client) == []


@pytest.mark.parametrize("offset", [-59, 59])
def test_request_id_within_window_is_accepted(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, clock: Clock, offset: int
) -> None:
    headers = signer.headers(make_license("system"), signer.request_id(ts=clock.now + offset))
    assert client.put(EVENT_URL, headers=headers, json={"data": {"type": "x"}}).status_code == 200


def test_window_is_configurable(clock: Clock) -> None:
    from mockserver import create_app
    from tests.conftest import KosmosSigner

    app = create_app({"DATABASE": ":memory:", "CLOCK": clock, "ALLOWED_TIME_SPAN": 300})
    client = app.test_client()
    license_key = client.post("/__admin/licenses", json={"authLevel": "system"}).json["licenseKey"]
    signer = KosmosSigner(client, clock)
    headers = signer.headers(license_key, signer.request_id(ts=clock.now - 200))
    assert client.put(EVENT_URL, headers=headers, json={"data": {"type": "x"}}).status_code == 200
    headers = signer.headers(license_key, signer.request_id(ts=clock.now - 301))
    assert client.put(EVENT_URL, headers=headers, json={"data": {"type": "x"}}).status_code == 401


def test_replayed_request_id(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    headers = signer.headers(make_license("system"))
    body = {"data": signer.seal({"type": "x"})}
    assert client.put(EVENT_URL, headers=headers, json=body).status_code == 200
    assert_refused(client.put(EVENT_URL, headers=headers, json=body), 401, "already used")
    assert len(stored_events(client)) == 1


def test_a_replayed_request_that_is_also_invalid_is_refused_as_a_replay(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    headers = signer.headers(make_license("system"))
    assert client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "x"})}).status_code == 200
    replayed_and_invalid = client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"no": "type"})})
    assert_refused(replayed_and_invalid, 401, "already used")


def test_a_replay_is_refused_as_one_before_the_license_reach_and_the_body_are_judged(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    """A used request id sent elsewhere (a tenant the license does not reach, with a bad body) is a replay."""
    headers = signer.headers(make_license("community", tenantId="t1", communityId="c1"))
    assert client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "x"})}).status_code == 200
    elsewhere = EVENT_URL.replace("/t1/", "/t2/")
    assert_refused(client.put(elsewhere, headers=headers, json={"data": signer.seal({"no": "type"})}), 401, "already")
    fresh = signer.headers(make_license("community", tenantId="t1", communityId="c1"))
    assert_refused(client.put(elsewhere, headers=fresh, json={"data": signer.seal({"type": "x"})}), 403, "tenant t2")
    assert len(stored_events(client)) == 1


def test_a_refused_request_records_nothing_so_its_request_id_stays_usable(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    """One transaction per accepted request: the request id is recorded with the event, or not at all."""
    headers = signer.headers(make_license("system"))
    assert client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"no": "type"})}).status_code == 400
    assert stored_events(client) == []
    assert client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "x"})}).status_code == 200
    assert_refused(client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "x"})}), 401, "already")
    assert len(stored_events(client)) == 1


def test_a_request_id_is_forgotten_once_it_expires_even_before_the_sweep(app: Flask, clock: Any) -> None:
    """Forgotten ids are deleted at most once a second; one expired but not yet deleted is not a replay."""
    store = backend_of(app).kosmos
    assert store.remember_request_id("0b5a2c9e-0000-4000-8000-000000000001", expires=clock.now - 1)  # sweeps
    assert store.remember_request_id("0b5a2c9e-0000-4000-8000-000000000002", expires=clock.now + 60)
    assert store.remember_request_id("0b5a2c9e-0000-4000-8000-000000000001", expires=clock.now + 60)  # expired
    assert not store.remember_request_id("0b5a2c9e-0000-4000-8000-000000000001", expires=clock.now + 120)
    assert not store.remember_request_id("0b5a2c9e-0000-4000-8000-000000000002", expires=clock.now + 120)


def test_fresh_request_ids_are_not_replays(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system")
    for _ in range(3):
        assert signer.put_event(license_key).status_code == 200
    assert len(stored_events(client)) == 3


def test_unknown_license(client: FlaskClient, signer: KosmosSigner) -> None:
    response = client.put(EVENT_URL, headers=signer.headers("no-such-license"), json={"data": {"type": "x"}})
    assert_refused(response, 401, "Invalid or Unauthorized License")
    assert stored_events(client) == []
    assert client.get("/__admin/journal").json[-2]["reason"] == "unknown license key"


def test_disabled_license(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system", disabled=True)
    response = client.put(EVENT_URL, headers=signer.headers(license_key), json={"data": {"type": "x"}})
    assert_refused(response, 401, "Invalid or Unauthorized License")
    assert stored_events(client) == []


def test_expired_license(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system", expiry="2020-01-01T00:00:00Z")
    response = client.put(EVENT_URL, headers=signer.headers(license_key), json={"data": {"type": "x"}})
    assert_refused(response, 401, "Invalid or Unauthorized License")
    assert stored_events(client) == []


def test_license_not_yet_expired(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system", expiry="2999-01-01T00:00:00Z")
    assert signer.put_event(license_key).status_code == 200


# --- refusals: 403 ------------------------------------------------------------------------------


def test_tenant_license_cannot_write_or_query_another_tenant(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    license_a = make_license("tenant", tenantId="A")
    assert signer.put_event(license_a, tenant="A", community="any").status_code == 200
    assert_refused(signer.put_event(license_a, tenant="B", community="any"), 403, "tenant B")
    assert_refused(signer.query(license_a, tenant="B", community="any"), 403, "tenant B")
    assert signer.query(license_a, tenant="A", community="any").status_code == 200
    assert [e["tenant_id"] for e in stored_events(client)] == ["A"]


def test_community_license_is_held_to_its_community(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    license_key = make_license("community", tenantId="A", communityId="c1")
    assert signer.put_event(license_key, tenant="A", community="c1").status_code == 200
    assert_refused(signer.put_event(license_key, tenant="A", community="c2"), 403, "community c2")
    assert_refused(signer.put_event(license_key, tenant="B", community="c1"), 403, "tenant B")
    assert len(stored_events(client)) == 1


@pytest.mark.parametrize("level", ["system", "service"])
def test_system_and_service_licenses_reach_every_tenant(signer: KosmosSigner, make_license: Any, level: str) -> None:
    license_key = make_license(level)
    assert signer.put_event(license_key, tenant="X", community="Y").status_code == 200
    assert signer.query(license_key, tenant="Z", community="W").status_code == 200


@pytest.mark.parametrize("level", ["service", "tenant"])
def test_service_keys_need_a_system_license(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, level: str
) -> None:
    license_key = make_license(level, **({"tenantId": "t"} if level == "tenant" else {}))
    assert_refused(client.get("/events/servicekeys", headers=signer.headers(license_key)), 403, "system")
    assert_refused(client.delete("/events/servicekey/x", headers=signer.headers(license_key)), 403, "system")


# --- 404 ----------------------------------------------------------------------------------------


def test_unknown_route_in_kosmos_format(client: FlaskClient) -> None:
    assert_refused(client.get("/events/nothing-here"), 404, "no route")
    assert_refused(client.get("/reports/nothing"), 404, "no route")


def test_unknown_service_key(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    response = client.delete("/events/servicekey/no-such-key", headers=signer.headers(make_license("system")))
    assert_refused(response, 404, "no service key")


def test_wrong_content_type_is_refused(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    response = client.put(
        EVENT_URL, headers=signer.headers(make_license("system")), data="type=x", content_type="text/plain"
    )
    assert response.status_code == 415
    assert response.json["statusCode"] == 415
    assert stored_events(client) == []


# --- service keys -------------------------------------------------------------------------------


def test_service_key_reset_replaces_the_key(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("system")
    keys = client.get("/events/servicekeys", headers=signer.headers(license_key))
    assert keys.status_code == 200
    [key] = keys.json
    assert key["publicKey"] == client.get("/events/publickeys").json["publicKey"]
    assert "privateKey" not in key

    old_headers = signer.headers(license_key)  # encrypted to the old key
    reset = client.delete(f"/events/servicekey/{key['keyId']}", headers=signer.headers(license_key))
    assert reset.status_code == 200
    assert reset.json["keyId"] == key["keyId"]
    assert reset.json["publicKey"] != key["publicKey"]
    assert client.get("/events/publickeys").json["publicKey"] == reset.json["publicKey"]

    response = client.put(EVENT_URL, headers=old_headers, json={"data": {"type": "x"}})
    assert_refused(response, 400, "can't be decrypted")
    assert signer.put_event(license_key).status_code == 200  # re-derived with the new key


# --- ecdsa_helper -------------------------------------------------------------------------------


def test_helper_decrypts_what_an_independent_implementation_encrypted(client: FlaskClient) -> None:
    alice, bob = IndependentCaller(), IndependentCaller()
    token = alice.seal("hello from node-land", alice.key_for(bob.public_b64))
    bob_private = base64.b64encode(bob.private.private_numbers().private_value.to_bytes(32, "big")).decode()
    response = client.post(
        "/events/ecdsa_helper/decrypt",
        json={"dataStr": token, "publicKey": alice.public_b64, "privateKey": bob_private},
    )
    assert response.status_code == 200, response.json
    assert response.json == {"data": "hello from node-land"}


def test_independent_implementation_decrypts_what_the_helper_encrypted(client: FlaskClient) -> None:
    alice, bob = IndependentCaller(), IndependentCaller()
    alice_private = base64.b64encode(alice.private.private_numbers().private_value.to_bytes(32, "big")).decode()
    response = client.post(
        "/events/ecdsa_helper/encrypt",
        json={"dataStr": "sealed by the mock", "publicKey": bob.public_b64, "privateKey": alice_private},
    )
    assert response.status_code == 200
    assert bob.open(response.json["data"], bob.key_for(alice.public_b64)) == "sealed by the mock"


def test_helper_decrypts_node_vector(client: FlaskClient) -> None:
    """The Node.js-made token of conformance/vectors/kosmos_crypto.json, opened by the endpoint."""
    from tests.test_kosmos_crypto import VECTORS

    ecdh, case = VECTORS["ecdh"][0], VECTORS["aesgcm"][1]
    response = client.post(
        "/events/ecdsa_helper/decrypt",
        json={"dataStr": case["token"], "publicKey": ecdh["publicKey"], "privateKey": ecdh["privateKey"]},
    )
    assert response.json == {"data": case["plaintext"]}


@pytest.mark.parametrize(
    "body",
    [
        {"dataStr": "x", "publicKey": "bad", "privateKey": VENDOR_PRIVATE},
        {"dataStr": "not a token", "publicKey": VENDOR_PUBLIC, "privateKey": VENDOR_PRIVATE},
        {"dataStr": "x", "publicKey": "x"},
    ],
    ids=["bad public key", "not a token", "no private key"],
)
def test_helper_refusals(client: FlaskClient, body: dict[str, str]) -> None:
    method = "decrypt" if body.get("dataStr") == "not a token" else "encrypt"
    assert client.post(f"/events/ecdsa_helper/{method}", json=body).status_code == 400


def test_helper_unknown_method(client: FlaskClient) -> None:
    response = client.post("/events/ecdsa_helper/sign", json={"dataStr": "x", "publicKey": "x", "privateKey": "x"})
    assert_refused(response, 400, "method")


# --- query --------------------------------------------------------------------------------------


def test_query_pages_and_filters(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license("tenant", tenantId="t1")
    base = (int(time.time()) - 86400) // 60 * 60  # a day ago: `from` may reach 90 days back
    for i in range(7):
        name = "E_LOGIN" if i % 2 == 0 else "E_LOGOUT"
        assert signer.put_event(license_key, name=name, epoch_time=base + i * 60, n=i).status_code == 200
    assert signer.put_event(license_key, community="other", epoch_time=base).status_code == 200

    page = signer.query(license_key, pSize=3, pIndex=0).json
    assert page["page"] == {"total": 7, "pSize": 3, "pIndex": 0}
    assert [e["n"] for e in page["data"]] == [0, 1, 2]
    assert [e["n"] for e in signer.query(license_key, pSize=3, pIndex=2).json["data"]] == [6]

    window = signer.query(license_key, **{"from": format_time(base + 60), "to": format_time(base + 180)}).json
    assert [e["n"] for e in window["data"]] == [1, 2, 3]
    names = signer.query(license_key, query={"event_name": "E_LOGOUT"}).json
    assert names["page"]["total"] == 3
    assert {e["eventName"] for e in names["data"]} == {"E_LOGOUT"}


@pytest.mark.parametrize(
    ("bounds", "param"),
    [({"from": -91 * 86400}, "from"), ({"from": -3600, "to": -7200}, "to")],
    ids=["from over 90 days ago", "to before from"],
)
def test_query_refuses_bounds_as_the_reports_service(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, bounds: dict[str, int], param: str
) -> None:
    body = {k: format_time(time.time() + offset) for k, offset in bounds.items()}
    response = signer.query(make_license("system"), **body)
    assert response.status_code == 400
    assert response.json["errors"][0]["param"] == param
    inside = {k: format_time(time.time() - 89 * 86400) for k in ("from",)}
    assert signer.query(make_license("system"), **inside).status_code == 200


def test_query_reports_both_bound_refusals_in_the_vendors_words(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    body = {"from": format_time(time.time() - 100 * 86400), "to": format_time(time.time() - 101 * 86400)}
    response = signer.query(make_license("system"), **body)
    assert response.status_code == 400
    assert response.json == {"errors": [
        {"message": "Field should be from current time to minus 90 days", "param": "from"},
        {"message": "Date 'to' must be after 'from'", "param": "to"},
    ]}  # fmt: skip


def test_query_history_window_is_a_setting(clock: Clock) -> None:
    app = create_app({"DATABASE": ":memory:", "CLOCK": clock, "QUERY_HISTORY_DAYS": 4000})
    client = app.test_client()
    signer = KosmosSigner(client, clock)
    license_key = client.post("/__admin/licenses", json={"authLevel": "system"}).json["licenseKey"]
    old = {"from": format_time(clock.now - 3000 * 86400)}
    assert signer.query(license_key, **old).status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"pSize": 0}, "pSize"),
        ({"pSize": "ten"}, "pSize"),
        ({"pIndex": -1}, "pIndex"),
        ({"pIndex": 2**62}, "pIndex"),  # found by schemathesis: pSize * pIndex overflowed SQLite's int64 into a 500
        ({"from": "14/02/2023"}, "from"),
        ({"query": {"other": 1}}, "query"),
    ],
)
def test_query_refuses_bad_bodies(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, body: Any, param: str
) -> None:
    assert_refused(signer.query(make_license("system"), **body), 400, f"{param}: ")


# --- issue 13: the query's total comes from kept counts, and agrees with the events ----------------------


def test_the_query_total_agrees_with_the_events_and_survives_an_old_database(tmp_path: Path) -> None:
    from mockserver.db import SqliteDatabase
    from mockserver.kosmos.store import KosmosStore

    path = str(tmp_path / "counts.sqlite")
    store = KosmosStore(SqliteDatabase(path), time.time)
    for n in range(7):
        store.add_event({"tenant_id": "t", "community_id": "c", "eventName": f"E_{n % 3}", "event_ts": n, "n": n})
    store.add_event({"tenant_id": "t", "community_id": "other", "eventName": "E_0", "event_ts": 1})

    def totals(s: KosmosStore) -> list[int]:
        return [
            s.query_events("t", "c", page_size=1, page_index=0).total,
            s.query_events("t", "c", page_size=1, page_index=0, event_name="E_0").total,
            s.query_events("t", "c", page_size=1, page_index=0, start_ms=2, end_ms=5).total,
            s.query_events("t", "other", page_size=1, page_index=0).total,
            s.query_events("nobody", "c", page_size=1, page_index=0).total,
        ]

    assert totals(store) == [7, 3, 4, 1, 0]
    for before in ("the buckets were kept", "the all-time buckets were kept"):
        with store.db.transaction() as tx:  # a database written before ...
            tx.execute("DELETE FROM kosmos_event_buckets" + (" WHERE span = 0" if "all-time" in before else ""))
        store.db.close()
        store = KosmosStore(SqliteDatabase(path), time.time)
        assert totals(store) == [7, 3, 4, 1, 0], before
    store.reset()
    assert totals(store) == [0, 0, 0, 0, 0]


DAY, HOUR, MINUTE = 86_400_000, 3_600_000, 60_000
EVENT_TIMES = st.one_of(
    st.integers(-3 * DAY, 3 * DAY),
    st.sampled_from([0, -1, 1, MINUTE - 1, MINUTE, HOUR - 1, HOUR, DAY - 1, DAY, -DAY, -DAY - 1, 2 * DAY + 1]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(st.tuples(EVENT_TIMES, st.sampled_from(["E_A", "E_B"])), max_size=40),
    bounds=st.lists(st.tuples(st.one_of(st.none(), EVENT_TIMES), st.one_of(st.none(), EVENT_TIMES)), max_size=8),
    refill=st.booleans(),
)
def test_a_total_over_any_from_to_is_the_number_of_events_inside(
    events: list[tuple[int, str]], bounds: list[tuple[int | None, int | None]], refill: bool
) -> None:
    """Totals come from day, hour and minute buckets plus the edges: any range, either edge open,
    times before 1970, bucket boundaries, and buckets filled at start from an older database."""
    from mockserver.db import SqliteDatabase
    from mockserver.kosmos.store import KosmosStore

    store = KosmosStore(SqliteDatabase(), time.time)
    for n, (ts, name) in enumerate(events):
        store.add_event({"tenant_id": "t", "community_id": "c", "eventName": name, "event_ts": ts, "n": n})
    store.add_event({"tenant_id": "t", "community_id": "elsewhere", "eventName": "E_A", "event_ts": 0})
    if refill:  # as a database written before the buckets were kept is, at start
        with store.db.transaction() as tx:
            tx.execute("DELETE FROM kosmos_event_buckets")
        store._count_existing_events()
    for low, high in bounds:
        for name in (None, "E_A"):
            expected = [
                n for n, (ts, each) in enumerate(events)
                if (low is None or ts >= low) and (high is None or ts <= high) and name in (None, each)
            ]  # fmt: skip
            page = store.query_events("t", "c", page_size=5, page_index=0, start_ms=low, end_ms=high, event_name=name)
            assert page.total == len(expected)
            shown = sorted(expected, key=lambda n: (events[n][0], n))[:5]
            assert [e["n"] for e in page.events] == shown


def test_a_page_beyond_the_last_is_empty_with_the_right_total(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    license_key = make_license("system")
    for _ in range(3):
        assert signer.put_event(license_key).status_code == 200
    answer = signer.query(license_key, pSize=2, pIndex=1).json
    assert (answer["page"]["total"], len(answer["data"])) == (3, 1)
    answer = signer.query(license_key, pSize=2, pIndex=2).json
    assert (answer["page"]["total"], answer["data"]) == (3, [])


@pytest.mark.parametrize(
    ("epoch", "text"),
    [(0, "1970-01-01 00:00:00.000"), (1.0005, "1970-01-01 00:00:01.000"), (1795508239.0761, "2026-11-24 08:17:19.076")],
)
def test_the_vendor_time_format_has_milliseconds_truncated(epoch: float, text: str) -> None:
    assert format_time(epoch) == text
