"""HTTP-level tests of the 10Duke mock: /put with a JWS, /get feeds with a bearer JWT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from flask import Flask
from flask.testing import FlaskClient

from eventclient import jws
from mockserver import create_app
from mockserver.backend import backend_of
from tests.conftest import Clock, TenDukeSigner, rsa_pair, tenduke_events


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def event(**fields: Any) -> dict[str, Any]:
    return {"eventSourceId": "my-application", "eventType": "login", "data": {"ip": "12.13.14.15"}, **fields}


def post_jose(client: FlaskClient, body: str | bytes) -> Any:
    return client.post("/put", data=body, content_type="application/jose")


def assert_error(response: Any, status: int, code: str | None = None, message_part: str = "") -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert set(body) == {"error", "message"}
    if code:
        assert body["error"] == code
    assert message_part in body["message"]


# --- /put accepted --------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [2048, 4096])
@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_put_accepted(client: FlaskClient, clock: Clock, bits: int, algorithm: str) -> None:
    signer = TenDukeSigner(client, clock, bits=bits)
    response = signer.put(event(), algorithm)
    assert response.status_code == 200
    assert response.get_data() == b""
    [stored] = tenduke_events(client)
    assert stored["eventType"] == "login"
    assert stored["data"] == {"ip": "12.13.14.15"}


def test_server_fields_and_unknown_fields(client: FlaskClient, tenduke: TenDukeSigner, clock: Clock) -> None:
    given_id = str(uuid.uuid4())
    assert tenduke.put([event(eventId=given_id, custom={"x": 1}), event(), event(eventId=given_id)]).status_code == 200
    first, second, third = tenduke_events(client)
    assert first["eventId"] == given_id
    assert first["custom"] == {"x": 1}
    uuid.UUID(second["eventId"])
    assert third["eventId"] == given_id  # duplicates are stored, not rejected
    received = [e["eventReceived"] for e in (first, second, third)]
    assert received == sorted(set(received))
    assert abs(received[0] - clock.now * 1e9) < 1e9


def test_stamped_event_ids_are_distinct_random_uuids(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    given_id = str(uuid.uuid4())
    assert tenduke.put([event(), event(eventId=given_id), *[event() for _ in range(20)]]).status_code == 200
    stored = tenduke_events(client)
    assert stored[1]["eventId"] == given_id
    stamped = [uuid.UUID(e["eventId"]) for i, e in enumerate(stored) if i != 1]
    assert len(set(stamped)) == 21
    assert {(u.version, u.variant) for u in stamped} == {(4, uuid.RFC_4122)}
    assert [str(u) for u in stamped] == [e["eventId"] for i, e in enumerate(stored) if i != 1]  # canonical spelling


def test_event_received_increases_even_if_the_clock_goes_back(
    client: FlaskClient, tenduke: TenDukeSigner, clock: Clock
) -> None:
    tenduke.put(event())
    clock.now -= 3600
    tenduke.put(event())
    first, second = tenduke_events(client)
    assert second["eventReceived"] > first["eventReceived"]


def test_official_seed_example_is_accepted(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    """The two-event example of the 10Duke 'Store events' guide."""
    batch = [
        {
            "eventSourceId": "my-application",
            "eventId": "4c16ea57-285b-4340-aef0-73aa2b534ead",
            "eventType": "feature_use",
            "data": {"action": "open", "featureNameId": "open_model", "eventCreated": "2018-03-15T15:10:00Z"},
        },
        {
            "eventSourceId": "my-application",
            "eventId": "b05a5b27-308f-4f9d-a056-66fa64e2ece7",
            "eventType": "feature_use",
            "data": {"action": "execute", "featureNameId": "analyze_model", "eventCreated": "2018-03-15T15:23:00Z"},
        },
    ]
    assert tenduke.put(batch).status_code == 200
    assert [e["eventId"] for e in tenduke_events(client)] == [b["eventId"] for b in batch]


def test_kid_of_another_client_does_not_block_verification(client: FlaskClient, clock: Clock) -> None:
    a, b = TenDukeSigner(client, clock, slot=0), TenDukeSigner(client, clock, slot=1)
    token = jws.sign_jws(event(), b.pair.private_pem, kid=a.record["thumbprint"])
    assert post_jose(client, token).status_code == 200


# --- /put refused: 401 ----------------------------------------------------------------------------


def _forged(header: dict[str, Any], payload: Any, signature: bytes = b"") -> str:
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(signature)])


def test_alg_none_refused(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    assert_error(post_jose(client, _forged({"alg": "none"}, event())), 401, "invalid_signature", "'none'")
    assert tenduke_events(client) == []


def test_hs256_keyed_with_registered_public_key_refused(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    header, payload = b64url(b'{"alg":"HS256"}'), b64url(json.dumps(event()).encode())
    mac = hmac.new(tenduke.pair.public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert_error(post_jose(client, f"{header}.{payload}.{b64url(mac)}"), 401, "invalid_signature", "HS256")
    assert tenduke_events(client) == []


def test_es256_refused(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    token = jwt.api_jws.encode(json.dumps(event()).encode(), ec.generate_private_key(ec.SECP256R1()), "ES256")
    assert_error(post_jose(client, token), 401, "invalid_signature", "ES256")
    assert tenduke_events(client) == []


def test_tampered_payload_refused(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    header, _, signature = jws.sign_jws(event(), tenduke.pair.private_pem).split(".")
    forged_payload = b64url(json.dumps(event(eventType="admin")).encode())
    assert_error(post_jose(client, f"{header}.{forged_payload}.{signature}"), 401, "invalid_signature")
    assert tenduke_events(client) == []


def test_tampered_signature_refused(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    header, payload, signature = jws.sign_jws(event(), tenduke.pair.private_pem).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[-1] ^= 1
    assert_error(post_jose(client, f"{header}.{payload}.{b64url(bytes(raw))}"), 401, "invalid_signature")
    assert tenduke_events(client) == []


def test_unregistered_key_refused(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    stranger = rsa_pair(slot=7)
    assert_error(post_jose(client, jws.sign_jws(event(), stranger.private_pem)), 401, "invalid_signature")
    assert tenduke_events(client) == []


def test_no_registered_key_refuses_everything(client: FlaskClient) -> None:
    assert_error(post_jose(client, jws.sign_jws(event(), rsa_pair().private_pem)), 401, "invalid_signature")


def test_key_under_2048_bits_refused_at_registration_and_at_put(client: FlaskClient) -> None:
    weak = jws.generate_rsa_keypair(1024)
    response = client.post("/__admin/tenduke/clients", json={"publicKeyPem": weak.public_pem})
    assert_error(response, 400, "invalid_key", "1024 bits")
    signing_input = b64url(b'{"alg":"RS256"}') + "." + b64url(json.dumps(event()).encode())
    signature = jws.load_rsa_private_key(weak.private_pem).sign(
        signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    token = f"{signing_input}.{b64url(signature)}"
    assert_error(post_jose(client, token), 401, "invalid_signature")
    assert tenduke_events(client) == []


@pytest.mark.parametrize("bits", [1024, 2047])
def test_an_unusable_key_may_be_registered_but_never_verifies(client: FlaskClient, bits: int) -> None:
    weak = _rsa_pem_pair(bits)
    response = client.post("/__admin/tenduke/clients", json={"publicKeyPem": weak.public_pem, "allowUnusable": True})
    assert response.status_code == 201 and response.json["bits"] == bits
    signing_input = b64url(b'{"alg":"RS256"}') + "." + b64url(json.dumps(event()).encode())
    signature = jws.load_rsa_private_key(weak.private_pem).sign(
        signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert_error(post_jose(client, f"{signing_input}.{b64url(signature)}"), 401, "invalid_signature")
    assert tenduke_events(client) == []


def test_an_ec_key_may_be_registered_but_es256_stays_refused(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    refused = client.post("/__admin/tenduke/clients", json={"publicKeyPem": public_pem})
    assert_error(refused, 400, "invalid_key", "not an RSA key")
    response = client.post("/__admin/tenduke/clients", json={"publicKeyPem": public_pem, "allowUnusable": True})
    assert response.status_code == 201 and response.json["bits"] == 256
    token = jwt.api_jws.encode(json.dumps(event()).encode(), key, "ES256")
    assert_error(post_jose(client, token), 401, "invalid_signature", "ES256")
    assert tenduke.put(event()).status_code == 200  # the usable key still works


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ({"alg": "RS256", "crit": ["x-unknown"], "x-unknown": 1}, 401),
        ({"alg": "RS256", "crit": "not a list"}, 401),
        ({"alg": "RS256", "b64": False}, 401),
        ({"alg": "RS256", "kid": 5}, 400),
    ],
    ids=["crit unknown", "crit malformed", "b64 false", "kid not a string"],
)
def test_header_parameters_that_cannot_be_honoured(
    client: FlaskClient, tenduke: TenDukeSigner, header: dict[str, Any], status: int
) -> None:
    """Found by the conformance kit: these were 500s, raised by pyjwt after the allow-list check."""
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(event()).encode())
    signature = jws.load_rsa_private_key(tenduke.pair.private_pem).sign(
        signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert_error(post_jose(client, f"{signing_input}.{b64url(signature)}"), status)
    assert tenduke_events(client) == []
    assert post_jose(client, jws.sign_jws(event(), tenduke.pair.private_pem)).status_code == 200


def _rsa_pem_pair(bits: int) -> jws.PemKeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return jws.PemKeyPair(
        private, key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    )


def test_deleted_client_key_stops_working(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    assert tenduke.put(event()).status_code == 200
    assert client.delete(f"/__admin/tenduke/clients/{tenduke.record['clientId']}").status_code == 204
    assert tenduke.put(event()).status_code == 401
    assert len(tenduke_events(client)) == 1


def test_the_key_ring_holds_only_registered_clients(app: Flask, client: FlaskClient, clock: Clock) -> None:
    first, second = TenDukeSigner(client, clock, slot=0), TenDukeSigner(client, clock, slot=1)
    assert first.put(event()).status_code == second.put(event()).status_code == 200
    store = backend_of(app).tenduke
    assert len(store.key_ring()) == 4  # each key by client id and by thumbprint
    assert client.delete(f"/__admin/tenduke/clients/{second.record['clientId']}").status_code == 204
    assert first.put(event()).status_code == 200
    assert second.put(event()).status_code == 401
    assert {kid for kid, _ in store.key_ring()} == {first.record["clientId"], first.record["thumbprint"]}


# --- /put refused: 400, 413, 415 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, message",
    [
        (5, "payload"),
        ("an event", "payload"),
        (None, "payload"),
        ([], "payload"),
        ([event(), 5], "payload[1]"),
        ({"eventSourceId": "s"}, "'eventType' is a required property"),
        (event(eventObjectType="user"), "payload"),
        (event(eventObjectId="u1"), "payload"),
        (event(eventReceived=1), "payload"),
        (event(eventId="not-a-uuid"), "uuid"),
        (event(data=[1]), "payload.data"),
        ([event(), event(), {"eventType": "x"}], "payload[2]"),
    ],
    ids=[
        "number", "string", "null", "empty array", "array with number", "no eventType", "object type only",
        "object id only", "eventReceived sent", "eventId not uuid", "data not object", "third of batch bad",
    ],
)  # fmt: skip
def test_bad_payload_refused_atomically(
    client: FlaskClient, tenduke: TenDukeSigner, payload: Any, message: str
) -> None:
    assert_error(tenduke.put(payload), 400, "invalid_event", message)
    assert tenduke_events(client) == []


def test_payload_not_json(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    assert_error(tenduke.put(b"not json"), 400, "invalid_event", "not JSON")


@pytest.mark.parametrize(
    "body", ["abc", "a.b", "a.b.c.d", "e30.e30", "!!!.e30.e30", "e30.%%%.", "eyJhbGciOiJSUzI1NiJ9.@@.x", ""]
)
def test_not_a_compact_jws(client: FlaskClient, tenduke: TenDukeSigner, body: str) -> None:
    response = post_jose(client, body)
    assert response.status_code == 400, response.json
    assert set(response.json) == {"error", "message"}
    assert tenduke_events(client) == []


def test_not_a_jws_says_what_is_expected(client: FlaskClient) -> None:
    assert_error(post_jose(client, "a.b.c.d"), 400, message_part="three base64url parts joined by dots")


def test_broken_base64_in_header_part(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    _, payload, signature = jws.sign_jws(event(), tenduke.pair.private_pem).split(".")
    assert_error(post_jose(client, f"eyJhbGciOiJSUzI1NiJ9x.{payload}.{signature}"), 400)


def test_wrong_content_type(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    token = jws.sign_jws(event(), tenduke.pair.private_pem)
    assert_error(client.post("/put", data=token, content_type="application/json"), 415, "unsupported_media_type")
    assert_error(client.post("/put", data=token, content_type="text/plain"), 415)
    assert tenduke_events(client) == []


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 10 * 1024 * 1024])
def test_body_too_large(client: FlaskClient, tenduke: TenDukeSigner, size: int) -> None:
    assert_error(post_jose(client, "e" * size), 413, "payload_too_large", "larger than the limit of 1048576 bytes")
    assert tenduke_events(client) == []


def test_too_many_events(clock: Clock) -> None:
    client = create_app({"DATABASE": ":memory:", "CLOCK": clock, "MAX_EVENTS_PER_PUT": 5}).test_client()
    signer = TenDukeSigner(client, clock)
    assert signer.put([event()] * 5).status_code == 200
    assert_error(signer.put([event()] * 6), 413, "too_many_events", "at most 5")
    assert len(tenduke_events(client)) == 5


def test_get_on_put_and_unknown_paths(client: FlaskClient) -> None:
    assert_error(client.get("/put"), 405)
    assert_error(client.get("/get"), 404)


# --- /get: authorization --------------------------------------------------------------------------


def test_bearer_missing(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    assert_error(client.get("/get/my-application"), 401, "unauthorized", "Bearer")
    assert_error(client.get("/get/my-application", headers={"Authorization": "Basic abc"}), 401)


def test_bearer_feed_claims(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    tenduke.put(event())
    assert tenduke.get("/get/my-application", tenduke.token("my-application")).status_code == 200
    assert tenduke.get("/get/my-application", tenduke.token("*")).status_code == 200
    assert_error(tenduke.get("/get/my-application", tenduke.token("other-app")), 403, "forbidden", "my-application")
    falsy = jws.sign_bearer({"my-application": "yes", "exp": tenduke.clock.now + 60}, tenduke.pair.private_pem)
    assert_error(tenduke.get("/get/my-application", falsy), 403)


def test_object_feed_claim(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    assert tenduke.get("/get/user/u1", tenduke.token("user/u1")).status_code == 200
    assert_error(tenduke.get("/get/user/u1", tenduke.token("user/u2")), 403)


@pytest.mark.parametrize(
    "claims, message",
    [
        ({"*": True, "exp": -10}, "expired"),
        ({"*": True}, "'exp' is required"),
        ({"*": True, "exp": 60, "nbf": 30}, "not valid yet"),
    ],
    ids=["expired", "no exp", "not yet valid"],
)
def test_bearer_times_refused(
    client: FlaskClient, tenduke: TenDukeSigner, claims: dict[str, Any], message: str
) -> None:
    now = tenduke.clock.now
    claims = {k: (now + v if k in ("exp", "nbf") else v) for k, v in claims.items()}
    token = jws.sign_bearer(claims, tenduke.pair.private_pem)
    assert_error(tenduke.get("/get/my-application", token), 401, "invalid_token", message)


def test_bearer_unsigned_unknown_key_garbage(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    now = tenduke.clock.now
    unsigned = _forged({"alg": "none"}, {"*": True, "exp": now + 60})
    assert_error(tenduke.get("/get/my-application", unsigned), 401, "invalid_token", "'none'")
    stranger = jws.sign_bearer({"*": True, "exp": now + 60}, rsa_pair(slot=7).private_pem)
    assert_error(tenduke.get("/get/my-application", stranger), 401, "invalid_token")
    assert_error(tenduke.get("/get/my-application", "garbage"), 401, "invalid_token")


def test_official_reader_style_token(client: FlaskClient, clock: Clock) -> None:
    """RS256 with a 4096-bit key and a kid thumbprint the server does not know."""
    signer = TenDukeSigner(client, clock, bits=4096)
    token = jws.sign_bearer(
        {"my-application": True, "exp": clock.now + 60, "iat": clock.now}, signer.pair.private_pem, kid="x"
    )
    assert signer.get("/get/my-application", token).status_code == 200


# --- /get: the feed -------------------------------------------------------------------------------


def test_feed_format(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    tenduke.put([event(n=i) for i in range(3)])
    feed = tenduke.get("/get/my-application?maxEventCount=2").json
    assert set(feed) == {"uri", "updateUrl", "count", "objects"}
    assert feed["uri"] == "/get/my-application?maxEventCount=2"
    assert feed["count"] == 2
    older, first, second, newer = feed["objects"]
    assert older == {"url": f"/get/my-application?before={first['eventReceived']}", "instruction": "older", "count": 0}
    assert newer == {"url": f"/get/my-application?after={second['eventReceived']}", "instruction": "newer", "count": -1}
    assert feed["updateUrl"] == newer["url"]
    assert [first["n"], second["n"]] == [0, 1]

    last = tenduke.get(newer["url"]).json
    assert [e["n"] for e in last["objects"][1:-1]] == [2]
    assert last["objects"][0]["count"] == -1
    empty = tenduke.get(last["updateUrl"]).json
    assert empty["count"] == 0
    assert [o["instruction"] for o in empty["objects"]] == ["older", "newer"]
    assert empty["updateUrl"] == last["updateUrl"]  # polling the newer link waits for new events


def test_bounds_are_exclusive(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    tenduke.put([event(n=i) for i in range(5)])
    received = [e["eventReceived"] for e in tenduke_events(client)]
    page = tenduke.get(f"/get/my-application?after={received[1]}&before={received[3]}").json
    assert [e["eventReceived"] for e in page["objects"][1:-1]] == [received[2]]


def test_object_feed(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    tenduke.put([event(eventObjectType="user", eventObjectId="u1"), event(), event(eventSourceId="other")])
    by_source = tenduke.get("/get/my-application").json
    by_object = tenduke.get("/get/user/u1").json
    assert by_source["count"] == 2
    assert by_object["count"] == 1
    assert by_object["objects"][1] == by_source["objects"][1]
    assert by_object["objects"][-1]["url"].startswith("/get/user/u1?after=")


def test_feed_names_are_url_encoded(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    tenduke.put(event(eventSourceId="a b/c"))
    feed = tenduke.get("/get/a%20b%2Fc", tenduke.token("a b/c")).json
    # werkzeug decodes %2F into a path separator, so "a b/c" reads as the object feed a b / c
    assert feed["objects"][-1]["url"].startswith("/get/a%20b/c?after=")


@pytest.mark.parametrize(
    "query",
    [
        "after=abc",
        "before=-1",
        "maxEventCount=0",
        "maxEventCount=10001",
        "newest=maybe",
        "after=1e5",
        "after=99999999999999999999",
    ],
)
def test_bad_cursors(client: FlaskClient, tenduke: TenDukeSigner, query: str) -> None:
    assert_error(tenduke.get(f"/get/my-application?{query}"), 400)


def read_all_forward(signer: TenDukeSigner, url: str, between: Any = None, max_pages: int = 60) -> list[dict[str, Any]]:
    """Follow the newer links until an empty page; fail if that takes more than ``max_pages``."""
    seen: list[dict[str, Any]] = []
    for _ in range(max_pages):
        feed = signer.get(url).json
        items = feed["objects"][1:-1]
        if not items:
            return seen
        seen.extend(items)
        if between:
            between()
        url = feed["objects"][-1]["url"] + "&maxEventCount=100"
    raise AssertionError("paging did not end")


def test_paging_2500_events_exactly_once(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    for batch in range(5):
        assert tenduke.put([event(n=batch * 500 + i) for i in range(500)]).status_code == 200
    seen = read_all_forward(tenduke, "/get/my-application?maxEventCount=100")
    assert [e["n"] for e in seen] == list(range(2500))
    received = [e["eventReceived"] for e in seen]
    assert received == sorted(set(received))


def test_paging_while_writing(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    tenduke.put([event(n=i) for i in range(250)])
    counter = iter(range(250, 10000))

    def write_some() -> None:
        if len(tenduke_events(client)) < 1000:
            tenduke.put([event(n=next(counter)) for _ in range(37)])

    seen = read_all_forward(tenduke, "/get/my-application?maxEventCount=100", between=write_some)
    stored = tenduke_events(client)
    assert [e["n"] for e in seen] == [e["n"] for e in stored]
    assert len(seen) == len({e["eventId"] for e in seen}) == len(stored)


def test_newest_walks_backwards(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    tenduke.put([event(n=i) for i in range(250)])
    feed = tenduke.get("/get/my-application?newest=true&maxEventCount=100").json
    pages = []
    while feed["count"]:
        pages.append([e["n"] for e in feed["objects"][1:-1]])
        feed = tenduke.get(feed["objects"][0]["url"] + "&newest=true&maxEventCount=100").json
    assert pages == [list(range(150, 250)), list(range(50, 150)), list(range(50))]
    assert feed["objects"][-1]["instruction"] == "newer"


def test_restart_keeps_feed_and_order(tmp_path: Any, clock: Clock) -> None:
    db = str(tmp_path / "t.sqlite")
    client = create_app({"DATABASE": db, "CLOCK": clock}).test_client()
    signer = TenDukeSigner(client, clock)
    signer.put([event(n=i) for i in range(300)])
    before = read_all_forward(signer, "/get/my-application?maxEventCount=100")

    clock.now -= 600  # even if the restarted server's clock is behind
    client = create_app({"DATABASE": db, "CLOCK": clock}).test_client()
    signer = TenDukeSigner(client, clock)  # same key: the registration exists (409) and still works
    assert read_all_forward(signer, "/get/my-application?maxEventCount=100") == before
    signer.put(event(n=300))
    after = read_all_forward(signer, "/get/my-application?maxEventCount=100")
    assert after[:-1] == before
    assert after[-1]["eventReceived"] > before[-1]["eventReceived"]


@pytest.mark.parametrize("query", ["after=9223372036854775807", "before=0", "before=9223372036854775807&newest=true"])
def test_extreme_cursors(client: FlaskClient, tenduke: TenDukeSigner, query: str) -> None:
    """Found by the fuzzer: an empty page at the int64 edge once made a cursor overflow SQLite."""
    tenduke.put(event())
    feed = tenduke.get(f"/get/user/u1?{query}").json
    assert feed["count"] == 0
    assert [o["instruction"] for o in feed["objects"]] == ["older", "newer"]


# --- issue 26: the vendor's event schema (10Duke/event-api v1.20) and its Java model -------------------


def test_nulls_in_optional_envelope_fields_read_as_absent_as_the_java_model_reads_them(
    client: FlaskClient, tenduke: TenDukeSigner
) -> None:
    nulls = dict.fromkeys(["eventId", "eventObjectId", "eventObjectType", "eventKeyId", "version", "data"])
    assert tenduke.put([event(**nulls, eventReceived=None, custom=None)]).status_code == 200
    [stored] = tenduke_events(client)
    uuid.UUID(stored["eventId"])  # generated, as for an absent one
    assert not {"eventObjectId", "eventObjectType", "eventKeyId", "version", "data"} & set(stored)
    assert stored["custom"] is None  # a field the model does not know is kept as sent
    assert_error(tenduke.put(event(eventType=None)), 400)  # required fields are not made absent


def test_the_feed_reads_into_the_java_models_types(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    """Event: eventId a UUID, eventReceived a Long, eventKeyId and version Strings; Feed and instruction counts ints."""
    sent = event(eventKeyId="key-1", version="1.20.0", eventObjectType="user", eventObjectId="u-1", extra={"a": 1})
    assert tenduke.put(sent).status_code == 200
    feed = tenduke.get("/get/my-application").json
    assert isinstance(feed["count"], int) and isinstance(feed["uri"], str) and isinstance(feed["updateUrl"], str)
    older, stored, newer = feed["objects"]
    for instruction in (older, newer):
        assert set(instruction) <= {"url", "instruction", "count"} and isinstance(instruction.get("count", 0), int)
    uuid.UUID(stored["eventId"])
    assert type(stored["eventReceived"]) is int and 0 < stored["eventReceived"] < 2**63
    assert {k: stored[k] for k in ("eventKeyId", "version", "eventObjectType", "eventObjectId", "extra")} == {
        "eventKeyId": "key-1", "version": "1.20.0", "eventObjectType": "user", "eventObjectId": "u-1", "extra": {"a": 1}
    }  # fmt: skip
    assert None not in stored.values()  # the model writes no nulls (NON_NULL)


def test_a_feed_without_a_token_is_401_even_if_the_spec_did_not_ask_for_one() -> None:
    """The handler reads the bearer token itself: a spec without `security` cannot make a missing one a 500."""
    import httpx

    from mockserver import MockServer
    from tests.broken_servers import _edited_specs

    def without_security(specs: dict[str, Any]) -> None:
        specs["tenduke-events"]["paths"]["/get/{eventObjectType}/{eventObjectId}"]["get"]["security"] = []

    with _edited_specs(without_security), MockServer() as server:
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
            response = httpx.get(f"{server.url}/get/user/u1", headers=headers)
            assert response.status_code == 401, (headers, response.text)
