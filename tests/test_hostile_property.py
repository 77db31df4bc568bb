"""Issue 11: a hostile-input property test. Hypothesis mixes the classes of hostile input (deep
nesting, non-finite and huge numbers, lone surrogates, control characters, invalid UTF-8, oversize
values, junk tokens) into every field that is decrypted, parsed or echoed, on both APIs and the
admin API, and checks that:

- no answer is a 5xx, and every refusal is in its API's error format;
- the answer and the storage agree: a 2xx stored exactly what it acknowledged, a refusal nothing;
- the server still answers a normal request afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventclient import jws, kosmos_crypto
from mockserver import create_app

APP = create_app({"DATABASE": ":memory:"})
CLIENT = APP.test_client()
LICENSE = CLIENT.post("/__admin/licenses", json={"authLevel": "system"}).json["licenseKey"]
CALLER = kosmos_crypto.generate_keypair()
KEY = kosmos_crypto.shared_key(CALLER.private_key, CLIENT.get("/events/publickeys").json["publicKey"])
RSA = jws.generate_rsa_keypair(2048)
CLIENT.post("/__admin/tenduke/clients", json={"publicKeyPem": RSA.public_pem})
RSA_KEY = jws.load_rsa_private_key(RSA.private_pem)

# --- the hostile pieces ----------------------------------------------------------------------------------

odd_text = st.text(
    st.one_of(
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
        st.characters(max_codepoint=0x1F),  # control characters, NUL included
        st.sampled_from(["\u2028", "\ufeff", "\ufffe", "日", "\U0001f600", '"', "\\", "\r", "\n"]),
        st.characters(),
    ),
    max_size=20,
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**1100), max_value=2**1100),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, odd_text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(odd_text, inner, max_size=4)),
    max_leaves=12,
)
literals = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" * 400, "-0", "1e-400", "[]", "{}", "null", '"\\ud800"']
)


@st.composite
def fragments(draw: st.DrawFn) -> str:
    """A JSON value as text, or something that only looks like one."""
    kind = draw(st.sampled_from(["value", "literal", "deep", "junk", "big"]))
    if kind == "value":
        return json.dumps(draw(json_values), ensure_ascii=draw(st.booleans()), allow_nan=True)
    if kind == "literal":
        return draw(literals)
    if kind == "deep":
        depth = draw(st.sampled_from([31, 32, 33, 100, 1000, 2500]))
        return "[" * depth + "]" * depth
    if kind == "big":
        return json.dumps("x" * draw(st.sampled_from([1000, 300_000, 1_100_000])))
    return draw(st.text(max_size=30))


def raw(text: str) -> bytes:
    """Text as bytes, lone surrogates included (as invalid UTF-8), the way a careless client sends them."""
    return text.encode("utf-8", "surrogatepass")


def b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(header: bytes, payload: bytes) -> str:
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    return f"{signing_input}.{b64url(RSA_KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))}"


# --- what is stored --------------------------------------------------------------------------------------


def counts() -> tuple[int, int, int]:
    kosmos = CLIENT.get("/__admin/events?api=kosmos&limit=100000").json
    tenduke = CLIENT.get("/__admin/events?api=tenduke&limit=100000").json
    return len(kosmos), len(tenduke), len(CLIENT.get("/__admin/licenses").json)


def assert_answer(response: Any, api: str) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        body = response.json
        if api == "kosmos" and isinstance(body, dict) and "errors" not in body:
            assert set(body) == {"statusCode", "error", "message"}, body
        elif api != "kosmos":
            assert set(body) == {"error", "message"}, body


# --- the senders -----------------------------------------------------------------------------------------


def kosmos_put(where: str, fragment: str) -> tuple[Any, tuple[int, int, int]]:
    request_id = f'{{"ts": {int(time.time())}, "uuid": "{uuid.uuid4()}", "appid": "p"}}'
    data = '{"type": "event"}'
    body = None
    if where == "requestid":
        request_id = request_id[:-1] + f', "x": {fragment}}}'
    elif where == "requestid_whole":
        request_id = fragment
    elif where == "data":
        data = f'{{"type": "event", "x": {fragment}}}'
    elif where == "data_whole":
        data = fragment
    else:
        body = raw(f'{{"data": {fragment}}}')
    headers = {
        "publickey": CALLER.public_key,
        "licensekey": kosmos_crypto.encrypt(LICENSE, KEY),
        "requestid": kosmos_crypto.encrypt(raw(request_id), KEY),
        "Content-Type": "application/json",
    }
    if body is None:
        body = json.dumps({"data": kosmos_crypto.encrypt(raw(data), KEY)}).encode()
    response = CLIENT.put("/events/tenant/t/community/c/event/E_PROPERTY", headers=headers, data=body)
    return response, (1, 0, 0)


def tenduke_put(where: str, fragment: str) -> tuple[Any, tuple[int, int, int]]:
    header, payload = b'{"alg":"RS256"}', raw(f'{{"eventSourceId": "p", "eventType": "t", "x": {fragment}}}')
    if where == "header":
        header = raw(f'{{"alg": "RS256", "x": {fragment}}}')
    elif where == "payload_whole":
        payload = raw(fragment)
    elif where == "junk_token":
        response = CLIENT.post("/put", data=raw(fragment), content_type="application/jose")
        return response, (0, 0, 0)
    response = CLIENT.post("/put", data=signed(header, payload), content_type="application/jose")
    try:
        value = json.loads(payload)
        stored = len(value) if isinstance(value, list) else 1
    except (ValueError, RecursionError):
        stored = 1
    return response, (0, stored, 0)


def tenduke_get(where: str, fragment: str) -> tuple[Any, tuple[int, int, int]]:
    exp = int(time.time()) + 60
    claims = (
        f'{{"*": true, "exp": {exp}, "x": {fragment}}}' if where == "claims" else f'{{"*": true, "exp": {fragment}}}'
    )
    token = signed(b'{"alg":"RS256"}', raw(claims)) if where != "junk_bearer" else fragment
    try:
        response = CLIENT.get("/get/p", headers={"Authorization": f"Bearer {token}"})
    except UnicodeEncodeError:  # not sendable as a header at all
        return None, (0, 0, 0)
    return response, (0, 0, 0)


def admin_post(where: str, fragment: str) -> tuple[Any, tuple[int, int, int]]:
    if where == "license":
        body = raw(f'{{"authLevel": "system", "tag": {fragment}}}')
        return CLIENT.post("/__admin/licenses", data=body, content_type="application/json"), (0, 0, 1)
    body = raw(f'{{"publicKeyPem": {fragment}}}')
    return CLIENT.post("/__admin/tenduke/clients", data=body, content_type="application/json"), (0, 0, 0)


TARGETS = {
    **{
        f"kosmos:{w}": (kosmos_put, w, "kosmos") for w in ("requestid", "requestid_whole", "data", "data_whole", "body")
    },
    **{f"tenduke:{w}": (tenduke_put, w, "tenduke") for w in ("payload", "header", "payload_whole", "junk_token")},
    **{f"tenduke:{w}": (tenduke_get, w, "tenduke") for w in ("claims", "exp", "junk_bearer")},
    **{f"admin:{w}": (admin_post, w, "admin") for w in ("license", "client")},
}


@given(target=st.sampled_from(sorted(TARGETS)), fragment=fragments())
@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_hostile_input_never_a_5xx_and_answers_agree_with_storage(target: str, fragment: str) -> None:
    send, where, api = TARGETS[target]
    before = counts()
    response, would_store = send(where, fragment)
    after = counts()
    if response is not None:
        assert_answer(response, api)
        if 200 <= response.status_code < 300:
            assert after == tuple(b + w for b, w in zip(before, would_store, strict=True)), (target, fragment[:200])
        else:
            assert after == before, (target, fragment[:200], response.status_code)
    assert CLIENT.get("/events/healthz").status_code == 200
    good = signed(b'{"alg":"RS256"}', b'{"eventSourceId": "ok", "eventType": "t"}')
    assert CLIENT.post("/put", data=good, content_type="application/jose").status_code == 200
