"""No request, however malformed, gets a server error; responses follow the spec.

Two fuzzers: schemathesis generates positive and negative cases from the specs against the WSGI
app, and a hypothesis test sends near-miss credentials (random text, random base64 of every
length around a real ciphertext, random curve points, huge values) with real ones mixed in.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from eventclient import jws, kosmos_crypto
from mockserver import create_app

APP = create_app({"DATABASE": ":memory:"})
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

kosmos_schema = schemathesis.openapi.from_wsgi("/openapi/kosmos-events.yaml", APP)
tenduke_schema = schemathesis.openapi.from_wsgi("/openapi/tenduke-events.yaml", APP)
# its own app: the admin fuzz resets state (reset?all=true), which must not wipe the credentials below
admin_schema = schemathesis.openapi.from_wsgi("/openapi/admin.yaml", create_app({"DATABASE": ":memory:"}))


@schemathesis.serializer("application/jose")
def jose_as_is(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """Send generated JWS bodies unsigned, as generated: the mock must refuse them cleanly."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


@kosmos_schema.parametrize()
@FUZZ_SETTINGS
def test_kosmos_spec_fuzz(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


TENDUKE_PAIR = jws.generate_rsa_keypair(2048)
APP.test_client().post("/__admin/tenduke/clients", json={"publicKeyPem": TENDUKE_PAIR.public_pem})


@tenduke_schema.parametrize()
@FUZZ_SETTINGS
def test_tenduke_spec_fuzz(case: schemathesis.Case) -> None:
    """Feeds are read with a valid token so that the generated parameters reach the feed code."""
    headers = None
    if case.operation.method.upper() == "GET":
        token = jws.sign_bearer({"*": True, "exp": time.time() + 300}, TENDUKE_PAIR.private_pem)
        headers = {"Authorization": f"Bearer {token}"}
    case.call_and_validate(checks=CHECKS, headers=headers)


@admin_schema.parametrize()
@FUZZ_SETTINGS
def test_admin_spec_fuzz(case: schemathesis.Case) -> None:
    """The event stream is asked to end at once (it would otherwise follow events until the client leaves)."""
    if case.path == "/__admin/stream":
        case.query = {**(case.query or {}), "maxSeconds": 0}
    case.call_and_validate(checks=CHECKS)


# --- near-miss credentials ----------------------------------------------------------------------

CLIENT = APP.test_client()
LICENSE = CLIENT.post("/__admin/licenses", json={"authLevel": "system"}).json["licenseKey"]
PAIR = kosmos_crypto.generate_keypair()
KEY = kosmos_crypto.shared_key(PAIR.private_key, CLIENT.get("/events/publickeys").json["publicKey"])


def _sealed(text: str) -> str:
    return kosmos_crypto.encrypt(text, KEY)


def _valid_request_id() -> str:
    return _sealed(json.dumps({"ts": int(time.time()), "uuid": str(uuid.uuid4()), "appid": "fuzz"}))


b64_bytes = st.binary(min_size=0, max_size=120).map(lambda b: base64.b64encode(b).decode())
# what HTTP can carry in a header value: Latin-1 without control characters
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=200)
header_values = st.one_of(
    header_text,
    b64_bytes,  # random ciphertexts, truncated ones included (under 32 bytes)
    st.binary(min_size=64, max_size=64).map(lambda b: base64.b64encode(b).decode()),  # random "points"
    st.integers(min_value=1, max_value=40000).map(lambda n: "A" * n),  # huge
    st.text(max_size=80).map(_sealed),  # decrypts, but to junk
    st.recursive(
        st.none() | st.integers() | st.text(max_size=10),
        lambda c: st.lists(c) | st.dictionaries(st.text(max_size=5), c),
    )
    .map(json.dumps)
    .map(_sealed),  # decrypts to JSON that is not a request id
)
json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=10,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps({"data": v}).encode()),
    json_values.map(lambda v: json.dumps({"data": _sealed(json.dumps(v))}).encode()),
)


@given(
    publickey=st.one_of(st.just(PAIR.public_key), header_values),
    licensekey=st.one_of(st.just("real"), header_values),
    requestid=st.one_of(st.just("real"), header_values),
    body=bodies,
    path=st.sampled_from(
        [
            ("PUT", "/events/tenant/t/community/c/event/E"),
            ("POST", "/reports/tenant/t/community/c/events"),
            ("GET", "/events/servicekeys"),
            ("POST", "/events/ecdsa_helper/decrypt"),
        ]
    ),
)
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_near_miss_credentials_never_500(publickey: str, licensekey: str, requestid: str, body: bytes, path) -> None:
    headers = {
        "publickey": publickey,
        "licensekey": _sealed(LICENSE) if licensekey == "real" else licensekey,
        "requestid": _valid_request_id() if requestid == "real" else requestid,
        "Content-Type": "application/json",
    }
    method, url = path
    response = CLIENT.open(url, method=method, headers=headers, data=body)
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400 and url.startswith("/reports/"):  # the reports service's envelope
        [error] = response.json["errors"]
        assert set(response.json) == {"errors"} and set(error) == {"message", "param"} and all(error.values())
    elif response.status_code >= 400:
        assert set(response.json) == {"statusCode", "error", "message"}


@given(payload=json_values | st.lists(json_values, max_size=5), algorithm=st.sampled_from(jws.ALLOWED_ALGORITHMS))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_signed_junk_payloads_never_500(payload: Any, algorithm: str) -> None:
    body = jws.sign_jws(payload, TENDUKE_PAIR.private_pem, algorithm)
    response = CLIENT.post("/put", data=body, content_type="application/jose")
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert set(response.json) == {"error", "message"}
