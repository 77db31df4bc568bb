"""1Kosmos checks of the envelope, the headers, request ids, licenses and error statuses.

Each check sends the probe that must be refused, reads back that nothing was stored, and sends
the matching good probe, which must be accepted: a server that refuses everything fails too.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from conformance import wire
from conformance.core import CheckFailed, Context, SkipCheck, check, expect_refusal, expect_status
from conformance.kosmos_probe import Caller, event_name, kosmos, service_curve, service_public_key, stored

API = "kosmos"
WRITE = ("createEvent",)
WRITER = ("kosmos.licenses.community|tenant|service|system",)
CURVE_NAMES = {"secp256k1": "secp256k1", "prime256v1": "prime256v1", "p-256": "prime256v1", "secp256r1": "prime256v1"}
"""The names an ``EC_CURVE_NAME`` may give each curve the vendor's helpers support (Node's ``createECDH`` takes
``secp256k1`` and ``prime256v1``)."""
"""Any license that may write to the tenant and community (the narrowest is used)."""


def _writer(ctx: Context) -> str:
    license_key = kosmos(ctx).writer()
    if license_key is None:
        raise SkipCheck("needs a license for the tenant and community (kosmos.licenses.community, tenant, ...)")
    return license_key


def accepted(response: httpx.Response, what: str) -> None:
    """Fail unless ``response`` is a 2xx."""
    if response.status_code >= 500 or not 200 <= response.status_code < 300:
        raise CheckFailed(f"{what}: a valid request got {response.status_code}: {response.text[:300]}", response)


def nothing_stored(ctx: Context, name: str, what: str, **where: Any) -> None:
    """Fail if an event named ``name`` was stored."""
    if stored(ctx, name, **where):
        raise CheckFailed(f"{what}: the refused event was stored anyway")


def stored_once(ctx: Context, name: str, what: str, **where: Any) -> dict[str, Any]:
    """The one event stored under ``name``; fail unless there is exactly one."""
    found = stored(ctx, name, **where)
    if len(found) != 1:
        raise CheckFailed(f"{what}: the query returned {len(found)} events named {name}, expected 1")
    return found[0]


def refused_then_accepted(ctx: Context, what: str, status: int, bad: Any, good: Any) -> None:
    """``bad(name)`` is refused with ``status`` and stores nothing; ``good(other name)`` is accepted and stored once.

    Both are callables that send a request for an event name and return the response.
    """
    name = event_name(ctx, what.replace(" ", "_")[:40])
    expect_refusal(bad(name), what, status)
    nothing_stored(ctx, name, what)
    accepted(good(name + "_OK"), f"{what} (the good twin)")
    stored_once(ctx, name + "_OK", f"{what} (the good twin)")


# --- envelope -------------------------------------------------------------------------------------


@check(
    "kosmos.public_key",
    API,
    "GET /events/publickeys serves a secp256k1 or P-256 point (base64 X||Y); healthz agrees",
    family="envelope",
    operations=("getPublicKeys", "getHealthz"),
    needs=(),
)
def public_key(ctx: Context) -> None:
    service_key_and_health(ctx, "events")


def service_key_and_health(ctx: Context, service: str) -> str:
    """``service``'s ``/publickeys`` is a point on the services' curve and its ``/healthz`` shows the same.

    Return the key.
    """
    kosmos(ctx)
    key = service_public_key(ctx, fresh=True, service=service)
    curve = service_curve(ctx)
    try:
        raw = base64.b64decode(key, validate=True)
        ec.EllipticCurvePublicKey.from_encoded_point(wire.CURVES[curve], b"\x04" + raw)
        if len(raw) != 64:
            raise ValueError(f"{len(raw)} bytes")
    except ValueError as exc:
        raise CheckFailed(f"{service}: publicKey is not base64 of a 64-byte {curve} X||Y: {exc}") from exc
    health = ctx.http.get(ctx.url(f"/{service}/healthz"))
    expect_status(health, f"GET /{service}/healthz", (200,))
    if health.json().get("publicKey") != key:
        raise CheckFailed(f"/{service}/healthz reports another publicKey than /{service}/publickeys", health)
    if "syntheticheartbeatId" in health.json():
        raise CheckFailed("healthz has a syntheticheartbeatId without the synthetic-heartbeat header", health)
    beat = ctx.http.get(ctx.url(f"/{service}/healthz"), headers={"synthetic-heartbeat": "conformance"})
    expect_status(beat, f"GET /{service}/healthz with synthetic-heartbeat", (200,))
    if not isinstance(beat.json().get("syntheticheartbeatId"), str):
        raise CheckFailed("healthz with the synthetic-heartbeat header has no syntheticheartbeatId", beat)
    return key


@check(
    "kosmos.service_directory",
    API,
    "GET /events/sd is a flat map of service names to absolute URLs, events among them",
    family="envelope",
    operations=("getServiceDirectory",),
)
def service_directory(ctx: Context) -> None:
    kosmos(ctx)
    response = ctx.http.get(ctx.url("/events/sd"))
    expect_status(response, "GET /events/sd", (200,))
    body = response.json()
    if not isinstance(body, dict) or "events" not in body:
        raise CheckFailed(f"/events/sd is not a map of service names with 'events': {str(body)[:200]}", response)
    wrong = {k: v for k, v in body.items() if not (isinstance(v, str) and v.startswith(("http://", "https://")))}
    if wrong:
        raise CheckFailed(f"/events/sd has values that are not absolute URLs: {wrong}", response)


@check(
    "kosmos.raw_envelope_accepted",
    API,
    "a PUT made from raw primitives (own ECDH, AES-GCM, 16-byte IV) is accepted, stored once, its request id echoed",
    family="envelope",
    operations=WRITE,
    needs=WRITER,
)
def raw_envelope_accepted(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    # compact, then pretty-printed with raw UTF-8 (as Node's JSON.stringify(x, null, 2) sends it)
    for what, spell in (
        ("", json.dumps),
        ("_pretty", lambda r: json.dumps({**r, "appid": "日本"}, indent=2, ensure_ascii=False)),
    ):
        name, request_id = event_name(ctx, f"raw{what}"), caller.request_id()
        text = spell(request_id)
        response = caller.put(name, {"type": "conformance", "marker": ctx.run_id}, headers=caller.headers(text))
        accepted(response, f"raw envelope, request id {text[:40]!r}")
        echoed = response.headers.get("requestid")
        try:
            if json.loads(echoed or "") != json.loads(text):
                raise ValueError(echoed)
        except ValueError as exc:
            raise CheckFailed(
                f"the requestid response header is not the decrypted request id: {echoed!r}", response
            ) from exc
        if stored_once(ctx, name, "raw envelope").get("marker") != ctx.run_id:
            raise CheckFailed("the stored event lost its fields")


@check(
    "kosmos.hex_iv_accepted",
    API,
    "an envelope whose IV is 16 ASCII hex characters (the Java helper) is accepted",
    family="envelope",
    operations=WRITE,
    needs=WRITER,
)
def hex_iv_accepted(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    name = event_name(ctx, "hex_iv")
    iv = lambda: os.urandom(8).hex().encode("ascii")  # noqa: E731 - three fresh IVs
    headers = {
        "publickey": caller.public_key,
        "licensekey": caller.seal(caller.license_key, iv()),
        "requestid": caller.seal(caller.request_id(), iv()),
    }
    accepted(caller.put(name, None, headers=headers, data=caller.seal({"type": "conformance"}, iv())), "hex IV")
    stored_once(ctx, name, "hex IV")


def _flip(token: str, index: int) -> str:
    raw = bytearray(base64.b64decode(token))
    raw[index] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@check(
    "kosmos.tampered_ciphertext_refused",
    API,
    "one flipped bit in the IV, ciphertext or tag of licensekey, requestid or data: 400, nothing stored",
    family="envelope",
    operations=WRITE,
    needs=WRITER,
)
def tampered_ciphertext_refused(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    # a good request first: a server must not remember what one caller's headers decrypted to
    accepted(caller.put(event_name(ctx, "tampered_first"), {"type": "conformance"}), "a good request first")
    for part in ("licensekey", "requestid", "data"):
        for where, index in (("IV", 3), ("ciphertext", 17), ("tag", -1)):

            def bad(name: str, part: str = part, index: int = index) -> httpx.Response:
                headers, data = caller.headers(), caller.seal({"type": "conformance"})
                if part == "data":
                    data = _flip(data, index)
                else:
                    headers[part] = _flip(headers[part], index)
                return caller.put(name, None, headers=headers, data=data)

            name = event_name(ctx, f"tampered_{part}_{where}")
            expect_refusal(bad(name), f"{part} with a flipped bit in its {where}", 400)
            nothing_stored(ctx, name, f"tampered {part}")
    accepted(caller.put(event_name(ctx, "tampered_ok"), {"type": "conformance"}), "untampered twin")


@check(
    "kosmos.wrong_key_refused",
    API,
    "headers encrypted to another service key: 400 (can't be decrypted)",
    family="envelope",
    operations=WRITE,
    needs=WRITER,
)
def wrong_key_refused(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    stranger = ec.generate_private_key(wire.CURVES[caller.curve]).public_key()
    right_key = caller.key
    caller.key = caller.private.exchange(ec.ECDH(), stranger)
    name = event_name(ctx, "wrong_key")
    expect_refusal(caller.put(name, {"type": "conformance"}), "headers sealed for another service key", 400)
    caller.key = right_key
    nothing_stored(ctx, name, "wrong key")


@check(
    "kosmos.ecdsa_helper_vectors",
    API,
    "ecdsa_helper encrypts and decrypts like the fixed vectors, with 32-, 31- and 33-byte private keys; bad tag: 400",
    family="envelope",
    operations=("ecdsaHelper",),
)
def ecdsa_helper_vectors(ctx: Context) -> None:
    helper_vectors(ctx, "events")


def helper_vectors(ctx: Context, service: str) -> None:
    """The ``ecdsa_helper`` of ``service`` against the fixed vectors and the private key range."""
    kosmos(ctx)
    curve = service_curve(ctx)
    pairs = wire.kosmos_vectors(curve)["keypairs"]
    for mine, theirs in ((pairs[0], pairs[1]), (pairs[1], pairs[2]), (pairs[2], pairs[0])):
        key = wire.ecdh_key(theirs["privateKey"], mine["publicKey"], curve)
        body = {
            "dataStr": f"conformance {ctx.run_id}",
            "publicKey": theirs["publicKey"],
            "privateKey": mine["privateKey"],
        }
        response = ctx.http.post(ctx.url(f"/{service}/ecdsa_helper/encrypt"), json=body)
        expect_status(response, f"helper encrypt with {mine['name']}", (200,))
        if wire.open_envelope(str(response.json().get("data")), key) != body["dataStr"].encode():
            raise CheckFailed(f"helper encrypt with {mine['name']}: the kit cannot open the result", response)
        sealed = wire.seal(b"opened by the helper", key)
        response = ctx.http.post(ctx.url(f"/{service}/ecdsa_helper/decrypt"), json={**body, "dataStr": sealed})
        expect_status(response, f"helper decrypt with {mine['name']}", (200,))
        if response.json().get("data") != "opened by the helper":
            raise CheckFailed(f"helper decrypt with {mine['name']} returned {response.json().get('data')!r}", response)
        bad_tag = {**body, "dataStr": _flip(sealed, -1)}
        response = ctx.http.post(ctx.url(f"/{service}/ecdsa_helper/decrypt"), json=bad_tag)
        expect_refusal(response, "helper decrypt of a token with a bad tag", 400)
    _helper_key_range(ctx, pairs[0], service, curve)


def _helper_key_range(ctx: Context, peer: dict[str, str], service: str, curve: str) -> None:
    """Private keys outside 1..n-1, or longer than 33 bytes, are refused; n-1 itself works."""
    url, data = ctx.url(f"/{service}/ecdsa_helper/encrypt"), {"dataStr": "range", "publicKey": peer["publicKey"]}
    as_b64 = lambda n, size: base64.b64encode(n.to_bytes(size, "big")).decode()  # noqa: E731
    order = wire.ORDERS[curve]
    for what, key in {"zero": as_b64(0, 32), "the group order n": as_b64(order, 32),
                      "2^256-1": as_b64(2**256 - 1, 32), "34 bytes": as_b64(1, 34)}.items():  # fmt: skip
        expect_refusal(
            ctx.http.post(url, json={**data, "privateKey": key}), f"helper with a private key of {what}", 400
        )
    for what, scalar, size in (("n-1", order - 1, 32), ("1", 1, 32), ("7, in one byte", 7, 1)):
        response = ctx.http.post(url, json={**data, "privateKey": as_b64(scalar, size)})
        expect_status(response, f"helper with the private key {what}", (200,))
        public = wire.encode_public(ec.derive_private_key(scalar, wire.CURVES[curve]).public_key())
        key = wire.ecdh_key(peer["privateKey"], public, curve)
        if wire.open_envelope(str(response.json().get("data")), key) != b"range":
            raise CheckFailed(f"helper with the private key {what}: the kit cannot open the result", response)


# --- headers and bodies ---------------------------------------------------------------------------


@check(
    "kosmos.missing_header_refused",
    API,
    "no or an empty publickey, licensekey or requestid: 400, nothing stored",
    family="headers",
    operations=WRITE,
    needs=WRITER,
)
def missing_header_refused(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    for header in ("publickey", "licensekey", "requestid"):
        for value in (None, ""):
            name = event_name(ctx, f"missing_{header}_{value is None}")
            headers = caller.headers()
            if value is None:
                del headers[header]
            else:
                headers[header] = value
            what = f"{header} {'missing' if value is None else 'empty'}"
            expect_refusal(caller.put(name, {"type": "conformance"}, headers=headers), what, 400)
            nothing_stored(ctx, name, what)
    accepted(caller.put(event_name(ctx, "headers_ok"), {"type": "conformance"}), "all three headers")


@check(
    "kosmos.refusal_messages",
    API,
    "refusals say the vendor's words: a missing header 'This header should not be empty' (also on the key "
    "administration), one that does not "
    "decrypt 'This header can't be decrypted', a bad license 'Invalid or Unauthorized License'",
    family="errors",
    operations=WRITE,
    needs=WRITER,
)
def refusal_messages(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    missing = caller.headers()
    del missing["licensekey"]
    undecryptable = {**caller.headers(), "requestid": wire.seal(b"x" * 8, bytes(32))}
    unknown = caller.headers(license_key=f"unknown-{ctx.run_id}")
    cases = (
        ("a missing licensekey", missing, 400, "This header should not be empty"),
        ("a requestid encrypted to another key", undecryptable, 400, "This header can't be decrypted"),
        ("an unknown license", unknown, 401, "Invalid or Unauthorized License"),
    )
    for what, headers, status, words in cases:
        response = caller.put(event_name(ctx, "message"), {"type": "conformance"}, headers=headers)
        _says(response, what, status, words)
    for method, path in (("GET", "/events/servicekeys"), ("DELETE", f"/events/servicekey/none-{ctx.run_id}")):
        without = caller.headers()
        del without["licensekey"]
        response = ctx.http.request(method, ctx.url(path), headers=without)
        _says(response, f"{method} {path} without licensekey", 400, "This header should not be empty")


def _says(response: httpx.Response, what: str, status: int, words: str) -> None:
    expect_refusal(response, what, status)
    message = response.json().get("message")
    if words not in str(message):
        raise CheckFailed(f"{what}: the message {message!r} does not say {words!r}", response)


@check(
    "kosmos.malformed_headers_refused",
    API,
    "non-base64, truncated, off-curve or oversized headers: a 4xx in the error format, never a 5xx",
    family="headers",
    operations=WRITE,
    needs=WRITER,
)
def malformed_headers_refused(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    cases = {
        "non-base64 licensekey": ({"licensekey": "%%% not base64 %%%"}, 400),
        "truncated requestid": ({"requestid": "AAAA"}, 400),
        "off-curve publickey": ({"publickey": base64.b64encode(b"\x01" * 64).decode()}, 400),
        "publickey of 32 bytes": ({"publickey": base64.b64encode(os.urandom(32)).decode()}, 400),
        "huge publickey": ({"publickey": "A" * 6000}, 400),
        "non-ASCII publickey": ({"publickey": b"\xe9" * 88}, 400),
        "header over 8 KiB": ({"licensekey": "A" * 9000}, 431),
    }
    for what, (override, status) in cases.items():
        response = caller.put(
            event_name(ctx, "malformed"), {"type": "conformance"}, headers={**caller.headers(), **override}
        )
        expect_refusal(response, what, status)
    nothing_stored(ctx, event_name(ctx, "malformed"), "malformed headers")


@check(
    "kosmos.invalid_event_refused",
    API,
    "event without type, empty type, not JSON once decrypted, a JSON array: 400, nothing stored",
    family="bodies",
    operations=WRITE,
    needs=WRITER,
)
def invalid_event_refused(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    bodies = {
        "no type": caller.seal({"marker": ctx.run_id}),
        "empty type": caller.seal({"type": ""}),
        "not JSON": caller.seal("this is not JSON"),
        "a JSON array": caller.seal([{"type": "conformance"}]),
        "plain object without type": {"marker": ctx.run_id},
        "a timestamp that is no date": caller.seal({"type": "conformance", "timestamp": "yesterday at noon"}),
    }
    for what, data in bodies.items():
        refused_then_accepted(
            ctx,
            f"event {what}",
            400,
            lambda name, data=data: caller.put(name, None, data=data),
            lambda name: caller.put(name, None, data=caller.seal({"type": "conformance"})),
        )
    for epoch in (1e13, 1e300):  # far beyond year 9999: taken or refused, but never a server error
        response = caller.put(event_name(ctx, "far_future"), None, data=caller.seal({"type": "x", "epoch_time": epoch}))
        expect_status(response, f"an event with epoch_time {epoch:g}", (200, 400))
    accepted(caller.put(event_name(ctx, "plain_ok"), None, data={"type": "conformance"}), "plain object data")
    stored_once(ctx, event_name(ctx, "plain_ok"), "plain object data")


LENIENT_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400")
"""Numbers Python's json reads and a strict reader (JSON.parse, RFC 8259) does not read the same way."""
DEEP_HEADER_JSON = "[" * 2500 + "]" * 2500
"""Deep enough to overflow a recursive parser, small enough to fit a header."""


@check(
    "kosmos.lenient_json_refused",
    API,
    "NaN, Infinity, 1e400, a lone surrogate or deep nesting in the event or the request id: 400, nothing stored",
    family="bodies",
    operations=WRITE,
    needs=WRITER,
)
def lenient_json_refused(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    events = {f"an event with {n}": f'{{"type": "conformance", "x": {n}}}' for n in LENIENT_NUMBERS}
    events["an event with a lone surrogate"] = '{"type": "conformance", "x": "\\ud800"}'
    events["an event nested 10000 deep"] = '{"type": "conformance", "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    for what, text in events.items():
        refused_then_accepted(
            ctx,
            what,
            400,
            lambda name, text=text: caller.put(name, None, data=caller.seal(text)),
            lambda name: caller.put(name, None, data=caller.seal({"type": "conformance", "x": 1e300})),
        )
    extras = {f"{n} in the request id": n for n in LENIENT_NUMBERS}
    extras["a lone surrogate in the request id"] = '"\\ud800"'
    extras["the request id nested 2500 deep"] = DEEP_HEADER_JSON
    for what, extra in extras.items():
        text = f'{{"ts": {int(time.time())}, "uuid": "{uuid.uuid4()}", "appid": "conformance", "x": {extra}}}'
        _request_id_refused(ctx, what, 400, text)


@check(
    "kosmos.error_statuses",
    API,
    "unknown route 404, body over 1 MiB 413, non-JSON body 415: each in the error format, nothing stored",
    family="errors",
    operations=WRITE,
    needs=WRITER,
)
def error_statuses(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    expect_refusal(ctx.http.get(ctx.url(f"/events/no-such-route-{ctx.run_id}")), "unknown route", 404)
    name = event_name(ctx, "too_large")
    big = caller.seal({"type": "conformance", "pad": "x" * (1024 * 1024)})
    expect_refusal(caller.put(name, None, data=big), "a body over 1 MiB", 413)
    target = kosmos(ctx)
    path = f"/events/tenant/{target.tenant}/community/{target.community}/event/{name}"
    body = json.dumps({"data": caller.seal({"type": "conformance"})})
    response = ctx.http.put(ctx.url(path), content=body, headers={**caller.headers(), "Content-Type": "text/plain"})
    expect_refusal(response, "a text/plain body", 415)
    for broken in (b'{"data": "unterminated', b"\xff\xfe not UTF-8"):
        response = ctx.http.put(
            ctx.url(path), content=broken, headers={**caller.headers(), "Content-Type": "application/json"}
        )
        expect_refusal(response, f"a JSON body {broken[:12]!r}", 400)
    empty = {**caller.headers(), "Content-Type": "application/json"}
    expect_refusal(ctx.http.put(ctx.url(path), content=b"", headers=empty), "an empty body", 400)
    query = f"/reports/tenant/{target.tenant}/community/{target.community}/events"
    expect_refusal(
        ctx.http.post(ctx.url(query), content=b"", headers={**empty, **caller.headers(service="reports")}),
        "an empty query",
        400,
    )
    nothing_stored(ctx, name, "413/415")


# --- request ids ----------------------------------------------------------------------------------


def _request_id_refused(ctx: Context, what: str, status: int, request_id: Any) -> None:
    caller = Caller(ctx, _writer(ctx))
    refused_then_accepted(
        ctx,
        what,
        status,
        lambda name: caller.put(name, {"type": "conformance"}, headers=caller.headers(request_id)),
        lambda name: caller.put(name, {"type": "conformance"}),
    )


@check(
    "kosmos.request_id_fields_required",
    API,
    "a request id without ts, uuid or appid: 400; appId is taken",
    family="request ids",
    operations=WRITE,
    needs=WRITER,
)
def request_id_fields_required(ctx: Context) -> None:
    for field in ("ts", "uuid", "appid"):
        request_id = {"ts": int(time.time()), "uuid": str(uuid.uuid4()), "appid": "conformance"}
        del request_id[field]
        _request_id_refused(ctx, f"request id without {field}", 400, request_id)
    caller = Caller(ctx, _writer(ctx))
    camel = {"ts": int(time.time()), "uuid": str(uuid.uuid4()), "appId": "conformance"}
    name = event_name(ctx, "appid_camel")
    accepted(caller.put(name, {"type": "conformance"}, headers=caller.headers(camel)), "request id with appId")
    if stored_once(ctx, name, "appId").get("appid") != "conformance":
        raise CheckFailed("a request id's appId is not stored as the event's appid")


@check(
    "kosmos.request_id_types",
    API,
    "request id not JSON, not an object, ts not a number, uuid not a UUID string, appid not a string: 400",
    family="request ids",
    operations=WRITE,
    needs=WRITER,
)
def request_id_types(ctx: Context) -> None:
    def rid(**change: Any) -> dict[str, Any]:
        return {"ts": int(time.time()), "uuid": str(uuid.uuid4()), "appid": "conformance", **change}

    cases: dict[str, Any] = {
        "not JSON": "ts=now uuid=x",
        "a JSON array": json.dumps([rid()]),
        "ts a string": rid(ts=str(int(time.time()))),
        "ts true": rid(ts=True),
        "uuid a number": rid(uuid=12345),
        "uuid not a UUID": rid(uuid="not-a-uuid"),
        "appid a number": rid(appid=7),
    }
    for number in ("NaN", "Infinity", "-Infinity"):  # what JSON.parse refuses, Python's json takes
        cases[f"ts {number}"] = f'{{"ts": {number}, "uuid": "{uuid.uuid4()}", "appid": "conformance"}}'
    for what, value in cases.items():
        _request_id_refused(ctx, f"request id {what}", 400, value)
    caller = Caller(ctx, _writer(ctx))
    accepted(
        caller.put(event_name(ctx, "ts_float"), {"type": "x"}, headers=caller.headers(rid(ts=time.time()))),
        "request id with a fractional ts",
    )


def _window_probe(ctx: Context, sign: int) -> None:
    span = kosmos(ctx).allowed_time_span
    caller = Caller(ctx, _writer(ctx))
    side = "old" if sign < 0 else "ahead"
    inside = caller.request_id(ts=int(time.time()) + sign * (span - 15))
    accepted(
        caller.put(event_name(ctx, f"inside_{side}"), {"type": "x"}, headers=caller.headers(inside)),
        f"a request id {span - 15} s {side}",
    )
    _request_id_refused(
        ctx, f"request id {span + 15} s {side}", 401, caller.request_id(ts=int(time.time()) + sign * (span + 15))
    )


@check(
    "kosmos.request_id_window_past",
    API,
    "a request id 15 s inside the window is taken; 15 s older than it: 401",
    family="request ids",
    operations=WRITE,
    needs=WRITER,
)
def request_id_window_past(ctx: Context) -> None:
    _window_probe(ctx, -1)


@check(
    "kosmos.request_id_window_future",
    API,
    "a request id 15 s inside the window ahead is taken; beyond it: 401",
    family="request ids",
    operations=WRITE,
    needs=WRITER,
)
def request_id_window_future(ctx: Context) -> None:
    _window_probe(ctx, +1)


def _replay(
    ctx: Context, what: str, second: Caller, first: Caller | None = None, respell: Any = None, statuses: Any = (401,)
) -> None:
    """A request id used once is refused the second time (``respell`` may spell its uuid otherwise)."""
    first = first or Caller(ctx, _writer(ctx))
    name = event_name(ctx, what.replace(" ", "_").replace(":", ""))
    request_id = first.request_id()
    accepted(first.put(name, {"type": "conformance", "n": 1}, headers=first.headers(request_id)), f"{what}: first use")
    again = {**request_id, "uuid": respell(request_id["uuid"])} if respell else request_id
    response = second.put(name, {"type": "conformance", "n": 2}, headers=second.headers(again))
    expect_status(response, what, statuses)
    expect_refusal(response, what, response.status_code)
    found = stored(ctx, name)
    if [e.get("n") for e in found] != [1]:
        raise CheckFailed(f"{what}: stored n={[e.get('n') for e in found]}, expected only the first use")


UUID_SPELLINGS = {
    "upper case": str.upper,
    "without hyphens": lambda value: value.replace("-", ""),
    "in braces": lambda value: "{" + value + "}",
    "as urn:uuid": lambda value: "urn:uuid:" + value,
}
"""Other spellings of one UUID: a server that takes any of them as a new id accepts a replay."""


@check(
    "kosmos.replayed_request_id_refused",
    API,
    "the same request id again: 401, stored once; its uuid in upper case, without hyphens, in braces or as "
    "urn:uuid: 401 (or 400), stored once",
    family="request ids",
    operations=WRITE,
    needs=WRITER,
)
def replayed_request_id_refused(ctx: Context) -> None:
    caller = Caller(ctx, _writer(ctx))
    _replay(ctx, "replay", caller, caller)
    for spelling, respell in UUID_SPELLINGS.items():
        _replay(ctx, f"replay {spelling}", caller, caller, respell=respell, statuses=(400, 401))


@check(
    "kosmos.replay_across_key_pairs",
    API,
    "a request id used by one key pair is refused from another (401)",
    family="request ids",
    operations=WRITE,
    needs=WRITER,
)
def replay_across_key_pairs(ctx: Context) -> None:
    _replay(ctx, "replay other key pair", Caller(ctx, _writer(ctx)))


@check(
    "kosmos.replay_across_licenses",
    API,
    "a request id used with one license is refused with another (401)",
    family="request ids",
    operations=WRITE,
    needs=("kosmos.licenses.community", "kosmos.licenses.tenant"),
)
def replay_across_licenses(ctx: Context) -> None:
    licenses = kosmos(ctx).licenses
    first = Caller(ctx, licenses["community"])
    _replay(ctx, "replay other license", Caller(ctx, licenses["tenant"]), first)


# --- licenses -------------------------------------------------------------------------------------


def _license_refused(ctx: Context, license_key: str, what: str) -> None:
    caller = Caller(ctx, _writer(ctx))
    # the same caller key with a good license first: the license must be read from each request
    accepted(caller.put(event_name(ctx, "license_first"), {"type": "conformance"}), "a good license first")
    refused_then_accepted(
        ctx,
        what,
        401,
        lambda name: caller.put(name, {"type": "conformance"}, headers=caller.headers(license_key=license_key)),
        lambda name: caller.put(name, {"type": "conformance"}),
    )


@check(
    "kosmos.unknown_license_refused",
    API,
    "a license key the service does not know: 401",
    family="licenses",
    operations=WRITE,
    needs=WRITER,
)
def unknown_license_refused(ctx: Context) -> None:
    _license_refused(ctx, f"conformance-unknown-{ctx.run_id}", "unknown license")


@check(
    "kosmos.license_key_exact",
    API,
    "the license key with another case, a character less or more, or spaces around it: 401",
    family="licenses",
    operations=WRITE,
    needs=WRITER,
)
def license_key_exact(ctx: Context) -> None:
    key = _writer(ctx)
    variants = {
        "another case": key.swapcase() if key.swapcase() != key else None,
        "a character less": key[:-1],
        "a character more": key + "0",
        "a space before": " " + key,
        "a space after": key + " ",
        "a prefix": key[: len(key) // 2],
    }
    for what, variant in variants.items():
        if variant is not None:
            _license_refused(ctx, variant, f"license key with {what}")


@check(
    "kosmos.disabled_license_refused",
    API,
    "a disabled license: 401",
    family="licenses",
    operations=WRITE,
    needs=("kosmos.licenses.disabled",),
)
def disabled_license_refused(ctx: Context) -> None:
    _license_refused(ctx, kosmos(ctx).licenses["disabled"], "disabled license")


@check(
    "kosmos.expired_license_refused",
    API,
    "an expired license: 401",
    family="licenses",
    operations=WRITE,
    needs=("kosmos.licenses.expired",),
)
def expired_license_refused(ctx: Context) -> None:
    _license_refused(ctx, kosmos(ctx).licenses["expired"], "expired license")


@check(
    "kosmos.license_expiry_boundary",
    API,
    "a license is accepted until its expiry and refused (401) from then on",
    family="licenses",
    operations=WRITE,
    needs=("kosmos.expiring",),
    waits=4.0,
)
def license_expiry_boundary(ctx: Context) -> None:
    make = ctx.target.expiring_license
    license_key, expiry = make(3.0) if make else kosmos(ctx).expiring  # type: ignore[misc]
    if not time.time() + 0.5 < expiry < time.time() + 90:
        raise SkipCheck("kosmos.expiring must expire between 0.5 and 90 s after the check starts; give a fresh one")
    caller = Caller(ctx, license_key)
    accepted(caller.put(event_name(ctx, "before_expiry"), {"type": "x"}), "the license before its expiry")
    time.sleep(max(0.0, expiry - time.time()) + 1.0)
    name = event_name(ctx, "after_expiry")
    expect_refusal(caller.put(name, {"type": "x"}), "the license 1 s after its expiry", 401)
    nothing_stored(ctx, name, "expired license")


@check(
    "kosmos.revoked_license_refused",
    API,
    "a license disabled right after it was accepted: the next request 401 (no stale cache)",
    family="licenses",
    operations=WRITE,
    needs=("kosmos.revocable",),
)
def revoked_license_refused(ctx: Context) -> None:
    license_key, disable = ctx.target.revocable_license()  # type: ignore[misc]
    caller = Caller(ctx, license_key)
    for n in range(2):  # twice: a server that caches what it read once has it cached now
        accepted(caller.put(event_name(ctx, f"before_revoking_{n}"), {"type": "x"}), "a fresh license")
    disable()
    name = event_name(ctx, "after_revoking")
    expect_refusal(caller.put(name, {"type": "x"}), "the same license, disabled since its last request", 401)
    nothing_stored(ctx, name, "disabled license")


@check(
    "kosmos.plain_license_checked",
    API,
    "healthz and environment take a valid plain licensekey, refuse others (401)",
    family="licenses",
    operations=("getHealthz", "getEnvironment"),
    needs=WRITER,
)
def plain_license_checked(ctx: Context) -> None:
    key = _writer(ctx)
    for path in ("/events/healthz", "/events/environment"):
        expect_status(ctx.http.get(ctx.url(path), headers={"licensekey": key}), f"{path} with a valid license", (200,))
        response = ctx.http.get(ctx.url(path), headers={"licensekey": f"conformance-unknown-{ctx.run_id}"})
        expect_refusal(response, f"{path} with an unknown plain license", 401)
    environment = ctx.http.get(ctx.url("/events/environment")).json()
    if environment.get("allowed_time_span") != kosmos(ctx).allowed_time_span:
        raise CheckFailed(f"environment reports allowed_time_span {environment.get('allowed_time_span')!r}")
    curve = service_curve(ctx)
    if CURVE_NAMES.get(str(environment.get("EC_CURVE_NAME")).lower()) != curve:
        raise CheckFailed(
            f"environment reports EC_CURVE_NAME {environment.get('EC_CURVE_NAME')!r}; the service keys are on {curve}"
        )
