"""10Duke ``/put`` checks: the algorithm allow-list, keys, the envelope, ``eventReceived`` and limits.

Every JWS and bearer token here is assembled by the kit's own wire code (:mod:`conformance.wire`),
not by pyjwt or ``eventclient``. Each check writes to a feed of its own, so a read-back is exact.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
import uuid
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from conformance import wire
from conformance.core import CheckFailed, Context, SkipCheck, TenDukeTarget, check, expect_refusal, expect_status

API = "tenduke"
PUT = ("putEvents", "getSourceFeed")
MAX_PAGES = 50
NONE_HEADER = wire.b64url(b'{"alg":"none"}')


def tenduke(ctx: Context) -> TenDukeTarget:
    """The 10Duke credentials, or skip."""
    if ctx.target.tenduke is None:
        raise SkipCheck("no 10Duke credentials given (the `tenduke` section of the credentials file)")
    return ctx.target.tenduke


@cache
def private_key(pem: str) -> Any:
    """A PEM private key, parsed once."""
    return serialization.load_pem_private_key(pem.encode(), password=None)


@cache
def stranger(bits: int = 2048) -> rsa.RSAPrivateKey:
    """An RSA key the target has never seen (made once per process)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def feed_name(ctx: Context, what: str) -> str:
    """An event source id of this run and check, so every read-back is exact."""
    return f"{tenduke(ctx).feed}-{ctx.run_id}-{what}"


def feed_path(feed: str) -> str:
    """``/get/<feed>``; an object feed ``type/id`` keeps its slash, each part percent-encoded."""
    return "/get/" + "/".join(quote(part, safe="") for part in feed.split("/"))


def events(feed: str, count: int = 1, **extra: Any) -> list[dict[str, Any]]:
    """``count`` events of ``feed``, numbered by ``n``."""
    return [{"eventSourceId": feed, "eventType": "conformance", "n": n, **extra} for n in range(count)]


def sign(
    ctx: Context, payload: Any, *, key: Any = None, header: dict[str, Any] | None = None, alg: str = "RS256"
) -> str:
    """A compact JWS of ``payload`` (JSON), by the client key unless ``key`` is given."""
    key = key or private_key(tenduke(ctx).private_key_pem)
    return wire.rsa_compact_jws(header or {"alg": alg}, json.dumps(payload).encode(), key, alg)


def put(ctx: Context, body: str | bytes, content_type: str = "application/jose") -> httpx.Response:
    """``POST /put``."""
    return ctx.http.post(ctx.url("/put"), content=body, headers={"Content-Type": content_type})


def token(ctx: Context, claims: dict[str, Any], *, key: Any = None, header: dict[str, Any] | None = None) -> str:
    """A bearer JWT of ``claims`` signed RS256 by the client key unless ``key`` is given."""
    return sign(ctx, claims, key=key, header=header)


def feed_token(ctx: Context, feed: str) -> str:
    """A token for ``feed``, valid for five minutes."""
    return token(ctx, {feed: True, "exp": int(time.time()) + 300})


def get(ctx: Context, path: str, bearer: str | None) -> httpx.Response:
    """``GET`` a feed page with ``Authorization: Bearer``."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    return ctx.http.get(ctx.url(path), headers=headers)


def page(ctx: Context, feed: str, query: str = "") -> dict[str, Any]:
    """One page of ``feed``, checked for shape: older instruction, events, newer instruction."""
    response = get(ctx, feed_path(feed) + (f"?{query}" if query else ""), feed_token(ctx, feed))
    expect_status(response, f"GET {feed_path(feed)}?{query}", (200,))
    body: dict[str, Any] = response.json()
    objects = body.get("objects")
    if not isinstance(objects, list) or len(objects) < 2:
        raise CheckFailed("a feed page has no 'objects' list with its two instructions", response)
    if objects[0].get("instruction") != "older" or objects[-1].get("instruction") != "newer":
        raise CheckFailed("a feed page does not start with 'older' and end with 'newer'", response)
    if body.get("count") != len(objects) - 2:
        raise CheckFailed(f"count {body.get('count')} is not the {len(objects) - 2} events on the page", response)
    return body


def read_all(ctx: Context, feed: str, page_size: int = 2) -> list[dict[str, Any]]:
    """Every event of ``feed``, following the newer links until a page holds no events."""
    query, seen = f"after=0&maxEventCount={page_size}", []
    for _ in range(MAX_PAGES):
        body = page(ctx, feed, query)
        found = body["objects"][1:-1]
        if not found:
            return seen
        seen.extend(found)
        query = body["objects"][-1]["url"].split("?", 1)[1] + f"&maxEventCount={page_size}"
    raise CheckFailed(f"following the newer links did not reach an empty page within {MAX_PAGES} pages")


def accepted_put(ctx: Context, body: str, what: str) -> None:
    """Fail unless ``/put`` answers 200 with an empty body."""
    response = put(ctx, body)
    expect_status(response, what, (200,))
    if response.content:
        raise CheckFailed(f"{what}: /put answered a body ({response.content[:100]!r}); the API answers none", response)


def refused_put(ctx: Context, feed: str, body: str | bytes, what: str, status: int = 401, **kwargs: Any) -> None:
    """``/put`` of ``body`` must be refused with ``status`` and store nothing in ``feed``."""
    expect_refusal(put(ctx, body, **kwargs), what, status)
    if read_all(ctx, feed, page_size=100):
        raise CheckFailed(f"{what}: the refused event was stored anyway")


# --- writing --------------------------------------------------------------------------------------


@check(
    "tenduke.signed_put_accepted",
    API,
    "RS256, RS384 and RS512 JWS made from raw primitives: 200, empty body, stored",
    family="signature",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def signed_put_accepted(ctx: Context) -> None:
    feed = feed_name(ctx, "algs")
    for n, alg in enumerate(wire.HASHES):
        accepted_put(ctx, sign(ctx, {**events(feed)[0], "n": n}, alg=alg), f"{alg} JWS")
    if [e.get("n") for e in read_all(ctx, feed)] != [0, 1, 2]:
        raise CheckFailed("the RS256/RS384/RS512 events were not all stored once")


@check(
    "tenduke.round_trip",
    API,
    "a batch comes back from /get once each, in order, with eventId and eventReceived",
    family="events",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def round_trip(ctx: Context) -> None:
    feed = feed_name(ctx, "roundtrip")
    sent = events(feed, 5, data={"nested": {"k": [1, "two"]}}, extra="kept")
    accepted_put(ctx, sign(ctx, sent), "signed /put of 5 events")
    got = read_all(ctx, feed)
    if [e.get("n") for e in got] != [0, 1, 2, 3, 4]:
        raise CheckFailed(
            f"paging by the newer links returned n={[e.get('n') for e in got]}, expected [0..4] once each"
        )
    for event in got:
        if event.get("data") != {"nested": {"k": [1, "two"]}} or event.get("extra") != "kept":
            raise CheckFailed(f"a stored event lost its data or unknown fields: {event}")


@check(
    "tenduke.batch_is_atomic",
    API,
    "a batch with one invalid event: 400, and none of it is stored",
    family="events",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def batch_is_atomic(ctx: Context) -> None:
    feed = feed_name(ctx, "atomic")
    for bad in ({"eventSourceId": feed}, {"eventSourceId": feed, "eventType": "x", "eventReceived": 1}):
        refused_put(ctx, feed, sign(ctx, [*events(feed, 2), bad]), f"a batch with {sorted(bad)}", 400)


@check(
    "tenduke.alg_not_allowed_refused",
    API,
    "alg none, HS256 keyed with the public key, PS256, ES256, rs256 or no alg: 401, nothing stored",
    family="signature",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def alg_not_allowed_refused(ctx: Context) -> None:
    feed = feed_name(ctx, "algs_refused")
    key = private_key(tenduke(ctx).private_key_pem)
    payload = wire.b64url(json.dumps(events(feed)[0]).encode())

    def assembled(header: dict[str, Any], signer: Any) -> str:
        signing_input = f"{wire.b64url(json.dumps(header).encode())}.{payload}"
        return f"{signing_input}.{wire.b64url(signer(signing_input.encode()))}"

    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    tokens = {
        "alg none": f"{NONE_HEADER}.{payload}.",
        "HS256 keyed with the public key PEM": assembled(
            {"alg": "HS256"}, lambda data: hmac.new(public_pem, data, hashlib.sha256).digest()
        ),
        "PS256 by the registered key": assembled({"alg": "PS256"}, lambda data: key.sign(data, pss, hashes.SHA256())),
        "ES256 by a fresh EC key": assembled({"alg": "ES256"}, lambda d: ec_key.sign(d, ec.ECDSA(hashes.SHA256()))),
        "alg 'rs256' (wrong case)": assembled(
            {"alg": "rs256"}, lambda d: key.sign(d, padding.PKCS1v15(), hashes.SHA256())
        ),
        "no alg": assembled({"typ": "JWT"}, lambda d: key.sign(d, padding.PKCS1v15(), hashes.SHA256())),
    }
    for what, body in tokens.items():
        refused_put(ctx, feed, body, what)


@check(
    "tenduke.tampered_jws_refused",
    API,
    "a JWS with a changed payload or signature: 401, nothing stored",
    family="signature",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def tampered_jws_refused(ctx: Context) -> None:
    feed = feed_name(ctx, "tampered")
    header, _, signature = sign(ctx, events(feed_name(ctx, "genuine"))[0]).split(".")
    refused_put(ctx, feed, f"{header}.{wire.b64url(json.dumps(events(feed)[0]).encode())}.{signature}", "new payload")
    header, payload, signature = sign(ctx, events(feed)[0]).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[-1] ^= 1
    refused_put(ctx, feed, f"{header}.{payload}.{wire.b64url(bytes(raw))}", "tampered signature")


@check(
    "tenduke.unregistered_key_refused",
    API,
    "a JWS by a key the target never registered (2048 or 1024 bits): 401",
    family="keys",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def unregistered_key_refused(ctx: Context) -> None:
    feed = feed_name(ctx, "stranger")
    refused_put(ctx, feed, sign(ctx, events(feed)[0], key=stranger(2048)), "unregistered 2048-bit key")
    refused_put(ctx, feed, sign(ctx, events(feed)[0], key=stranger(1024)), "unregistered 1024-bit key")


@check(
    "tenduke.revoked_key_refused",
    API,
    "a client key deleted right after it was accepted: its next JWS 401 (no stale cache)",
    family="keys",
    operations=PUT,
    needs=("tenduke.revocable",),
)
def revoked_key_refused(ctx: Context) -> None:
    pem, delete = ctx.target.revocable_client_key()  # type: ignore[misc]
    key, feed = private_key(pem), feed_name(ctx, "revoked")
    for n in range(2):  # twice: a server that caches its key ring has it cached now
        accepted_put(ctx, sign(ctx, events(feed_name(ctx, f"before_revoking_{n}"))[0], key=key), "a fresh client key")
    delete()
    refused_put(ctx, feed, sign(ctx, events(feed)[0], key=key), "the same key, deleted since its last JWS")


@check(
    "tenduke.registered_weak_key_refused",
    API,
    "a JWS by a registered RSA key under 2048 bits: 401",
    family="keys",
    operations=PUT,
    needs=("tenduke.weak_key",),
)
def registered_weak_key_refused(ctx: Context) -> None:
    feed, key = feed_name(ctx, "weak"), private_key(tenduke(ctx).weak_private_key_pem or "")
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size >= 2048:
        raise SkipCheck("tenduke.weak_key must be an RSA key of fewer than 2048 bits")
    refused_put(ctx, feed, sign(ctx, events(feed)[0], key=key), f"registered {key.key_size}-bit key")
    accepted_put(ctx, sign(ctx, events(feed_name(ctx, "weak_twin"))[0]), "the 2048-bit client key")


@check(
    "tenduke.registered_ec_key_refused",
    API,
    "an ES256 JWS by a registered EC key: 401 (RSA only)",
    family="keys",
    operations=PUT,
    needs=("tenduke.ec_key",),
)
def registered_ec_key_refused(ctx: Context) -> None:
    feed, key = feed_name(ctx, "ec"), private_key(tenduke(ctx).ec_private_key_pem or "")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SkipCheck("tenduke.ec_key must be an EC private key")
    signing_input = (
        f"{wire.b64url(json.dumps({'alg': 'ES256'}).encode())}.{wire.b64url(json.dumps(events(feed)[0]).encode())}"
    )
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    refused_put(ctx, feed, f"{signing_input}.{wire.b64url(raw)}", "ES256 by a registered EC key")


@check(
    "tenduke.second_client_accepted",
    API,
    "a JWS by another registered client, without kid, is accepted",
    family="keys",
    operations=PUT,
    needs=("tenduke.second_client_key",),
)
def second_client_accepted(ctx: Context) -> None:
    feed, key = feed_name(ctx, "second"), private_key(tenduke(ctx).second_private_key_pem or "")
    accepted_put(ctx, sign(ctx, events(feed)[0], key=key), "second")
    if len(read_all(ctx, feed)) != 1:
        raise CheckFailed("the second client's event was not stored once")
    response = get(ctx, feed_path(feed), token(ctx, {feed: True, "exp": int(time.time()) + 300}, key=key))
    expect_status(response, "a bearer token by the second client", (200,))


def _jwk(key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    as_b64 = lambda v: wire.b64url(v.to_bytes((v.bit_length() + 7) // 8, "big"))  # noqa: E731
    return {"kty": "RSA", "n": as_b64(numbers.n), "e": as_b64(numbers.e)}


def _self_signed(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "conformance attacker")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


@check(
    "tenduke.header_keys_not_trusted",
    API,
    "a JWS by an unknown key carrying jwk, jku, x5u, x5c or a registered kid: 401; an unknown kid on a good JWS: 200",
    family="keys",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def header_keys_not_trusted(ctx: Context) -> None:
    feed, attacker = feed_name(ctx, "header_keys"), stranger(2048)
    client = private_key(tenduke(ctx).private_key_pem).public_key()
    registered_kids = [_thumbprint(client), "1", "0"]
    headers = {
        "jwk": {"alg": "RS256", "jwk": _jwk(attacker.public_key())},
        "jku": {"alg": "RS256", "jku": "http://127.0.0.1:9/jwks.json"},
        "x5u": {"alg": "RS256", "x5u": "http://127.0.0.1:9/cert.pem"},
        "x5c": {"alg": "RS256", "x5c": [_self_signed(attacker)]},
        **{f"kid {kid}": {"alg": "RS256", "kid": kid} for kid in registered_kids},
    }
    for what, header in headers.items():
        refused_put(ctx, feed, sign(ctx, events(feed)[0], key=attacker, header=header), f"attacker key with {what}")
    accepted_put(
        ctx, sign(ctx, events(feed)[0], header={"alg": "RS256", "kid": "kid-the-server-never-saw"}), "unknown kid"
    )


def _thumbprint(key: rsa.RSAPublicKey) -> str:
    jwk = _jwk(key)
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":")).encode()
    return wire.b64url(hashlib.sha256(canonical).digest())


@check(
    "tenduke.crit_refused",
    API,
    "a JWS whose crit names an extension the server cannot know: 401",
    family="signature",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def crit_refused(ctx: Context) -> None:
    feed = feed_name(ctx, "crit")
    header = {"alg": "RS256", "crit": ["x-conformance"], "x-conformance": True}
    refused_put(ctx, feed, sign(ctx, events(feed)[0], header=header), "crit with an unknown extension")


@check(
    "tenduke.event_id",
    API,
    "eventId is a fresh UUID when absent, kept when sent, and duplicates are both stored",
    family="events",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def event_id(ctx: Context) -> None:
    feed, given = feed_name(ctx, "event_id"), str(uuid.uuid4())
    batch = [
        *events(feed, 2),
        {**events(feed)[0], "n": 2, "eventId": given},
        {**events(feed)[0], "n": 3, "eventId": given},
    ]
    accepted_put(ctx, sign(ctx, batch), "events with and without eventId")
    got = read_all(ctx, feed)
    ids = [e.get("eventId") for e in got]
    if len(got) != 4 or ids[2:] != [given, given]:
        raise CheckFailed(f"sent eventIds were not kept, or a duplicate was dropped: {ids}")
    for generated in ids[:2]:
        try:
            uuid.UUID(str(generated))
        except ValueError as exc:
            raise CheckFailed(f"a generated eventId is not a UUID: {generated!r}") from exc
    if ids[0] == ids[1]:
        raise CheckFailed("two events got the same generated eventId")


@check(
    "tenduke.event_received",
    API,
    "eventReceived is set in nanoseconds, strictly increasing inside a batch and across requests; sending it: 400",
    family="events",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def event_received(ctx: Context) -> None:
    feed = feed_name(ctx, "received")
    for batch in (events(feed, 3), events(feed, 2)):
        accepted_put(ctx, sign(ctx, batch), "a batch")
    received = [e.get("eventReceived") for e in read_all(ctx, feed)]
    if len(received) != 5 or not all(isinstance(r, int) for r in received) or received != sorted(set(received)):
        raise CheckFailed(f"eventReceived is not strictly increasing and unique: {received}")
    if abs(received[0] / 1e9 - time.time()) > 86400:
        raise CheckFailed(f"eventReceived {received[0]} is not now in nanoseconds since the epoch")
    refused = feed_name(ctx, "received_sent")
    refused_put(
        ctx, refused, sign(ctx, events(refused, eventReceived=time.time_ns())), "an event with eventReceived", 400
    )


@check(
    "tenduke.envelope_refused",
    API,
    "object type without id, no eventSourceId, no eventType, a payload that is no event, an empty batch: 400",
    family="events",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def envelope_refused(ctx: Context) -> None:
    feed = feed_name(ctx, "envelope")
    event = events(feed)[0]
    payloads: dict[str, Any] = {
        "eventObjectType without eventObjectId": {**event, "eventObjectType": "user"},
        "eventObjectId without eventObjectType": {**event, "eventObjectId": "u1"},
        "no eventType": {k: v for k, v in event.items() if k != "eventType"},
        "no eventSourceId": {k: v for k, v in event.items() if k != "eventSourceId"},
        "a JSON string": "an event",
        "an empty batch": [],
    }
    for what, payload in payloads.items():
        refused_put(ctx, feed, sign(ctx, payload), what, 400)
    refused_put(ctx, feed, "eyJhbGciOiJSUzI1NiJ9.not a JWS.at all", "not a compact JWS", 400)
    not_json = wire.rsa_compact_jws({"alg": "RS256"}, b"not JSON", private_key(tenduke(ctx).private_key_pem))
    refused_put(ctx, feed, not_json, "a signed payload that is not JSON", 400)
    refused_put(ctx, feed, "eyJhbGciOiJSUzI1NiJ9.A.AAAA", "a payload segment that is not base64url", 400)
    refused_put(ctx, feed, b"", "an empty body", 400)
    refused_put(ctx, feed, b"\xff\xfe.\xff.\xff", "a body that is not UTF-8", 400)
    refused_put(ctx, feed, f"{wire.b64url(b'not JSON')}.{wire.b64url(b'{}')}.AAAA", "a header that is not JSON", 400)
    accepted_put(ctx, sign(ctx, {**event, "eventObjectType": "user", "eventObjectId": "u1"}), "object type and id")


LENIENT_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400")
"""Numbers Python's json reads and a strict reader (JSON.parse, RFC 8259) does not read the same way."""
SURROGATE = '"\\ud800"'


@check(
    "tenduke.lenient_json_refused",
    API,
    "NaN, Infinity, 1e400, lone surrogates or deep nesting in a signed payload or header: 400, nothing stored; "
    "in a bearer token (exp NaN): 401",
    family="events",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def lenient_json_refused(ctx: Context) -> None:
    feed = feed_name(ctx, "lenient")
    key = private_key(tenduke(ctx).private_key_pem)
    event = f'{{"eventSourceId": "{feed}", "eventType": "conformance"'
    payloads = {f"an event with {n}": f'{event}, "x": {n}}}' for n in LENIENT_NUMBERS}
    payloads["a lone surrogate in eventType"] = f'{{"eventSourceId": "{feed}", "eventType": {SURROGATE}}}'
    payloads["a lone surrogate in a field name"] = f"{event}, {SURROGATE}: 1}}"
    payloads["an event nested 10000 deep"] = f'{event}, "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    headers = {"NaN in the header": '{"alg": "RS256", "x": NaN}'}
    headers["a header nested 2500 deep"] = '{"alg": "RS256", "x": ' + "[" * 2500 + "]" * 2500 + "}"
    signed = {what: wire.rsa_compact_jws_raw(b'{"alg":"RS256"}', text.encode(), key) for what, text in payloads.items()}
    for what, header in headers.items():
        signed[what] = wire.rsa_compact_jws_raw(header.encode(), f"{event}}}".encode(), key)
    for what, body in signed.items():
        refused_put(ctx, feed, body, what, 400)
    accepted_put(ctx, sign(ctx, {**events(feed)[0], "x": 1e300}), "an event with 1e300")
    exp = int(time.time()) + 300
    claim = f'{{"{feed}": true, "exp": '
    claims = {f"exp {n}": f"{claim}{n}}}" for n in ("NaN", "Infinity", "1e400")}
    claims["a lone surrogate claim"] = f"{claim}{exp}, {SURROGATE}: true}}"
    for what, text in claims.items():
        bearer = wire.rsa_compact_jws_raw(b'{"alg":"RS256"}', text.encode(), key)
        expect_refusal(get(ctx, feed_path(feed), bearer), f"a bearer token with {what}", 401)
    expect_status(get(ctx, feed_path(feed), feed_token(ctx, feed)), "a bearer token with a finite exp", (200,))


@check(
    "tenduke.limits",
    API,
    "over 1000 events or 1 MiB: 413; a body that is not application/jose: 415",
    family="errors",
    operations=PUT,
    needs=("tenduke.client_key",),
)
def limits(ctx: Context) -> None:
    feed = feed_name(ctx, "limits")
    refused_put(ctx, feed, sign(ctx, events(feed, 1001)), "1001 events", 413)
    refused_put(ctx, feed, sign(ctx, events(feed, pad="x" * (1024 * 1024))), "a 1 MiB body", 413)
    refused_put(ctx, feed, sign(ctx, events(feed)[0]), "application/json", 415, content_type="application/json")
    accepted_put(ctx, sign(ctx, events(feed, 1000)), "exactly 1000 events")
