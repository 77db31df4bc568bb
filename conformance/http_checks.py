"""Checks of the HTTP rules both APIs stand on (RFC 9110, RFC 6585, RFC 6750), and of tokens as clients send them.

Each sends the input no other check sends: a method the resource does not take (405 with
``Allow``), a media type with parameters, a chunked body over the limit, headers too large in
total, a bearer scheme in another case, RS384 and RS512 tokens, a plain license that is disabled or
expired. Each refused probe has its accepted twin.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from conformance import wire
from conformance.core import CheckFailed, Context, check, expect_refusal, expect_status
from conformance.kosmos_checks import accepted, nothing_stored, stored_once
from conformance.kosmos_probe import Caller, event_name, kosmos, service_curve, stored
from conformance.tenduke_checks import (
    events,
    feed_name,
    feed_path,
    feed_token,
    private_key,
    put,
    read_all,
    sign,
    tenduke,
    token,
)

WRITER = ("kosmos.licenses.community|tenant|service|system",)
LIMIT = 1024 * 1024
"""The body limit the APIs document (1 MiB)."""


def _allow(ctx: Context, method: str, path: str, must_allow: str, what: str) -> None:
    response = ctx.http.request(method, ctx.url(path))
    expect_refusal(response, what, 405)
    allowed = {m.strip().upper() for m in response.headers.get("Allow", "").split(",") if m.strip()}
    if must_allow not in allowed:
        raise CheckFailed(f"{what}: 405 without an Allow header naming {must_allow} (RFC 9110 15.5.6): {allowed}")


def _chunks(size: int) -> Iterator[bytes]:
    """A JSON body of about ``size`` bytes, sent in chunks (no Content-Length)."""
    yield b'{"data": "'
    for _ in range(size // 65536):
        yield b"x" * 65536
    yield b'"}'


@check(
    "kosmos.method_not_allowed",
    "kosmos",
    "a method the resource does not take (PATCH on an event, DELETE on publickeys): 405 with an Allow header",
    family="errors",
    operations=("createEvent", "getPublicKeys"),
)
def kosmos_method_not_allowed(ctx: Context) -> None:
    target = kosmos(ctx)
    event = f"/events/tenant/{target.tenant}/community/{target.community}/event/{event_name(ctx, 'method')}"
    _allow(ctx, "PATCH", event, "PUT", f"PATCH {event}")
    _allow(ctx, "DELETE", "/events/publickeys", "GET", "DELETE /events/publickeys")


@check(
    "tenduke.method_not_allowed",
    "tenduke",
    "a method the resource does not take (GET /put, POST on a feed): 405 with an Allow header",
    family="errors",
    operations=("putEvents", "getSourceFeed"),
)
def tenduke_method_not_allowed(ctx: Context) -> None:
    tenduke(ctx)
    _allow(ctx, "GET", "/put", "POST", "GET /put")
    _allow(ctx, "POST", feed_path(feed_name(ctx, "method")), "GET", "POST on a feed")


@check(
    "kosmos.media_type_parameters",
    "kosmos",
    "Content-Type application/json; charset=utf-8 is application/json (accepted, stored); text/plain; "
    "charset=utf-8: 415",
    family="bodies",
    operations=("createEvent",),
    needs=WRITER,
)
def kosmos_media_type_parameters(ctx: Context) -> None:
    target = kosmos(ctx)
    caller = Caller(ctx, target.writer() or "")
    name = event_name(ctx, "media_type")
    path = f"/events/tenant/{target.tenant}/community/{target.community}/event/{name}"
    body = json.dumps({"data": caller.seal({"type": "conformance"})})
    text = {**caller.headers(), "Content-Type": "text/plain; charset=utf-8"}
    plain = ctx.http.put(ctx.url(path), content=body, headers=text)
    expect_refusal(plain, "a text/plain; charset=utf-8 body", 415)
    nothing_stored(ctx, name, "text/plain; charset=utf-8")
    for media in ("application/json; charset=utf-8", "Application/JSON;charset=UTF-8"):
        response = ctx.http.put(ctx.url(path), content=body, headers={**caller.headers(), "Content-Type": media})
        accepted(response, f"Content-Type {media}")
    if len(found := stored(ctx, name)) != 2:
        raise CheckFailed(f"two events sent with media type parameters, {len(found)} stored")


@check(
    "tenduke.media_type_parameters",
    "tenduke",
    "Content-Type application/jose; charset=utf-8 is application/jose (accepted, stored); application/json: 415",
    family="events",
    operations=("putEvents",),
    needs=("tenduke.client_key",),
)
def tenduke_media_type_parameters(ctx: Context) -> None:
    feed = feed_name(ctx, "media")
    expect_refusal(put(ctx, sign(ctx, events(feed)), "application/json"), "a JWS sent as application/json", 415)
    for media in ("application/jose; charset=utf-8", "Application/JOSE"):
        expect_status(put(ctx, sign(ctx, events(feed)), media), f"Content-Type {media}", (200,))
    if len(read_all(ctx, feed, page_size=100)) != 2:
        raise CheckFailed("two events sent with media type parameters were not both stored")


@check(
    "kosmos.chunked_over_limit",
    "kosmos",
    "a chunked body (no Content-Length) over 1 MiB: 413 in the error format, nothing stored; a small one and one "
    "of exactly 1 MiB are accepted",
    family="errors",
    operations=("createEvent",),
    needs=WRITER,
)
def kosmos_chunked_over_limit(ctx: Context) -> None:
    target = kosmos(ctx)
    caller = Caller(ctx, target.writer() or "")
    name = event_name(ctx, "chunked")
    path = ctx.url(f"/events/tenant/{target.tenant}/community/{target.community}/event/{name}")
    headers = {**caller.headers(), "Content-Type": "application/json"}
    expect_refusal(ctx.http.put(path, content=_chunks(LIMIT + 65536), headers=headers), "a chunked 1 MiB+ body", 413)
    nothing_stored(ctx, name, "chunked body over the limit")
    small = json.dumps({"data": caller.seal({"type": "conformance"})}).encode()
    fresh = {**caller.headers(), "Content-Type": "application/json"}
    response = ctx.http.put(path, content=iter([small[:10], small[10:]]), headers=fresh)
    accepted(response, "a small chunked body")
    stored_once(ctx, name, "a small chunked body")
    exact_name = event_name(ctx, "chunked_exact")
    exact = _json_of_size(lambda pad: {"data": caller.seal({"type": "conformance", "pad": "x" * pad})}, LIMIT)
    exact_path = ctx.url(f"/events/tenant/{target.tenant}/community/{target.community}/event/{exact_name}")
    fresh = {**caller.headers(), "Content-Type": "application/json"}
    response = ctx.http.put(exact_path, content=iter([exact[:65536], exact[65536:]]), headers=fresh)
    accepted(response, "a chunked body of exactly 1 MiB")
    stored_once(ctx, exact_name, "a chunked body of exactly 1 MiB")


@check(
    "tenduke.chunked_over_limit",
    "tenduke",
    "a chunked /put body (no Content-Length) over 1 MiB: 413, nothing stored",
    family="errors",
    operations=("putEvents",),
    needs=("tenduke.client_key",),
)
def tenduke_chunked_over_limit(ctx: Context) -> None:
    feed = feed_name(ctx, "chunked")
    big = sign(ctx, events(feed, pad="x" * (LIMIT + 1024))).encode()
    response = ctx.http.post(
        ctx.url("/put"), content=iter([big[i : i + 65536] for i in range(0, len(big), 65536)]),
        headers={"Content-Type": "application/jose"},
    )  # fmt: skip
    expect_refusal(response, "a chunked JWS over 1 MiB", 413)
    if read_all(ctx, feed, page_size=100):
        raise CheckFailed("a chunked body over the limit was stored")


@check(
    "kosmos.body_limit_exact",
    "kosmos",
    "a PUT body of exactly 1 MiB is taken (stored); one byte more: 413, nothing stored",
    family="errors",
    operations=("createEvent",),
    needs=WRITER,
)
def kosmos_body_limit_exact(ctx: Context) -> None:
    caller = Caller(ctx, kosmos(ctx).writer() or "")
    path = "/events/tenant/{}/community/{}/event/{}"
    for size, taken in ((LIMIT, True), (LIMIT + 1, False)):
        name = event_name(ctx, f"body_{size}")
        body = _json_of_size(lambda pad: {"data": caller.seal({"type": "conformance", "pad": "x" * pad})}, size)
        url = ctx.url(path.format(kosmos(ctx).tenant, kosmos(ctx).community, name))
        response = ctx.http.put(url, content=body, headers={**caller.headers(), "Content-Type": "application/json"})
        if taken:
            accepted(response, f"a body of exactly {size} bytes")
            stored_once(ctx, name, f"a body of exactly {size} bytes")
        else:
            expect_refusal(response, f"a body of {size} bytes", 413)
            nothing_stored(ctx, name, f"a body of {size} bytes")


def _json_of_size(document: Any, size: int) -> bytes:
    """``document(pad)`` as JSON padded with trailing whitespace to exactly ``size`` bytes (``pad`` found here)."""
    pad = size * 3 // 4 - 200
    while len(body := json.dumps(document(pad)).encode()) > size:
        pad -= max(1, (len(body) - size) * 3 // 4)
    return body + b" " * (size - len(body))


@check(
    "tenduke.body_limit_exact",
    "tenduke",
    "a /put body (a compact JWS) of exactly 1 MiB is taken (stored); one byte more: 413, nothing stored",
    family="errors",
    operations=("putEvents",),
    needs=("tenduke.client_key",),
)
def tenduke_body_limit_exact(ctx: Context) -> None:
    key = private_key(tenduke(ctx).private_key_pem)
    for size, taken in ((LIMIT, True), (LIMIT + 1, False)):
        feed = feed_name(ctx, f"body_{size}")
        body = _jws_of_size(feed, size, key)
        if taken:
            expect_status(put(ctx, body), f"a JWS of exactly {size} bytes", (200,))
            if len(read_all(ctx, feed)) != 1:
                raise CheckFailed(f"a JWS of exactly {size} bytes was answered 200 but not stored once")
        else:
            expect_refusal(put(ctx, body), f"a JWS of {size} bytes", 413)
            if read_all(ctx, feed):
                raise CheckFailed(f"a JWS of {size} bytes was refused but stored")


def _jws_of_size(feed: str, size: int, key: Any) -> bytes:
    """A JWS of one event in ``feed``, exactly ``size`` bytes long.

    The payload is padded; a header member makes a length base64url can spell (a segment is never
    one more than a multiple of 4 characters long).
    """
    signature = len(wire.rsa_compact_jws({"alg": "RS256"}, b"{}", key).rsplit(".", 1)[1])
    for extra in ("", "a", "aa", "aaa"):
        header = json.dumps({"alg": "RS256", **({"x": extra} if extra else {})}, separators=(",", ":")).encode()
        payload_chars = size - len(wire.b64url(header)) - signature - 2
        if payload_chars % 4 == 1:
            continue
        payload_bytes = payload_chars * 3 // 4
        event = {"eventSourceId": feed, "eventType": "conformance_limit", "pad": ""}
        event["pad"] = "x" * (payload_bytes - len(json.dumps(event).encode()))
        body = wire.rsa_compact_jws_raw(header, json.dumps(event).encode(), key).encode()
        if len(body) == size:
            return body
    raise AssertionError(f"no JWS of {size} bytes")  # unreachable: one of four header lengths fits


@check(
    "kosmos.head_has_no_body",
    "kosmos",
    "HEAD of a GET resource (publickeys, healthz): 200 with the GET's headers and no body",
    family="errors",
    operations=("getPublicKeys", "getHealthz"),
)
def kosmos_head_has_no_body(ctx: Context) -> None:
    kosmos(ctx)
    for path in ("/events/publickeys", "/events/healthz"):
        _head(ctx, path)


@check(
    "tenduke.head_has_no_body",
    "tenduke",
    "HEAD of a feed: 200 with the GET's headers and no body",
    family="feed",
    operations=("getSourceFeed",),
    needs=("tenduke.client_key",),
)
def tenduke_head_has_no_body(ctx: Context) -> None:
    _head(ctx, *_readable_feed(ctx, "head"))


def _head(ctx: Context, path: str, headers: dict[str, str] | None = None) -> None:
    """HEAD ``path`` on a socket of its own (a client library drops what follows a HEAD answer's head)."""
    url = urlsplit(ctx.url(path))
    port = url.port or (443 if url.scheme == "https" else 80)
    lines = [f"HEAD {url.path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection((url.hostname or "", port), timeout=ctx.http.timeout.read or 30) as raw:
        conn = (
            ssl.create_default_context().wrap_socket(raw, server_hostname=url.hostname)
            if url.scheme == "https"
            else raw
        )
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1:2]
    if status != [b"200"]:
        raise CheckFailed(f"HEAD {path}: got {head[:60]!r}, expected 200")
    if rest:
        raise CheckFailed(
            f"HEAD {path}: the answer has a body after its head ({len(rest)} bytes; RFC 9110 9.3.2: none)"
        )


@check(
    "kosmos.header_control_characters",
    "kosmos",
    "a control character (0x01, DEL) in a header value: 400 in the error format; the same header printable: taken",
    family="headers",
    operations=("getHealthz",),
)
def kosmos_header_control_characters(ctx: Context) -> None:
    kosmos(ctx)
    _control_characters(ctx, "/events/healthz")


@check(
    "tenduke.header_control_characters",
    "tenduke",
    "a control character (0x01, DEL) in a header value: 400 in the error format; the same header printable: taken",
    family="errors",
    operations=("getSourceFeed",),
    needs=("tenduke.client_key",),
)
def tenduke_header_control_characters(ctx: Context) -> None:
    _control_characters(ctx, *_readable_feed(ctx, "control"))


def _control_characters(ctx: Context, path: str, headers: dict[str, str] | None = None) -> None:
    for value in ("probe\x01value", "probe\x7fvalue"):
        response = ctx.http.get(ctx.url(path), headers={**(headers or {}), "x-conformance": value})
        expect_refusal(response, f"a header value holding {value[5:-5]!r}", 400)
    response = ctx.http.get(ctx.url(path), headers={**(headers or {}), "x-conformance": "probe value"})
    expect_status(response, "the same header, printable", (200,))


@check(
    "tenduke.header_fields_too_large",
    "tenduke",
    "headers each under the field limit but over 32 KiB together: 431 in the error format; one field over 8 KiB: 431",
    family="errors",
    operations=("getSourceFeed",),
    needs=("tenduke.client_key",),
)
def tenduke_header_fields_too_large(ctx: Context) -> None:
    _header_sizes(ctx, *_readable_feed(ctx, "headers"))


def _readable_feed(ctx: Context, what: str) -> tuple[str, dict[str, str]]:
    """The path of a fresh feed and the headers that may read it."""
    feed = feed_name(ctx, what)
    return feed_path(feed), {"Authorization": f"Bearer {feed_token(ctx, feed)}"}


def _header_sizes(ctx: Context, path: str, headers: dict[str, str] | None = None) -> None:
    """Headers over 32 KiB together, or one field over 8 KiB: 431; a 4 KiB field: taken."""
    many = {**(headers or {}), **{f"x-conformance-{i}": "v" * 7000 for i in range(6)}}  # each under 8 KiB
    expect_refusal(ctx.http.get(ctx.url(path), headers=many), "headers of 42 KB together", 431)
    one = {**(headers or {}), "x-conformance": "v" * 9000}
    expect_refusal(ctx.http.get(ctx.url(path), headers=one), "one header field of 9 KB", 431)
    small = {**(headers or {}), "x-conformance": "v" * 4000}
    expect_status(ctx.http.get(ctx.url(path), headers=small), "a 4 KB field", (200,))


@check(
    "kosmos.too_many_header_fields",
    "kosmos",
    "more than 100 header fields: 431 in the error format; 50 small ones: taken",
    family="headers",
    operations=("getHealthz",),
)
def kosmos_too_many_header_fields(ctx: Context) -> None:
    kosmos(ctx)
    _header_count(ctx, "/events/healthz")


@check(
    "tenduke.too_many_header_fields",
    "tenduke",
    "more than 100 header fields: 431 in the error format; 50 small ones: taken",
    family="errors",
    operations=("getSourceFeed",),
    needs=("tenduke.client_key",),
)
def tenduke_too_many_header_fields(ctx: Context) -> None:
    _header_count(ctx, *_readable_feed(ctx, "header_count"))


def _header_count(ctx: Context, path: str, headers: dict[str, str] | None = None) -> None:
    many = {**(headers or {}), **{f"x-conformance-{i}": "v" for i in range(120)}}
    expect_refusal(ctx.http.get(ctx.url(path), headers=many), "120 header fields", 431)
    some = {**(headers or {}), **{f"x-conformance-{i}": "v" for i in range(50)}}
    expect_status(ctx.http.get(ctx.url(path), headers=some), "50 header fields", (200,))


@check(
    "kosmos.header_fields_too_large",
    "kosmos",
    "headers each under the field limit but over 32 KiB together: 431 in the error format; one field over 8 KiB: 431",
    family="headers",
    operations=("getHealthz",),
)
def kosmos_header_fields_too_large(ctx: Context) -> None:
    kosmos(ctx)
    _header_sizes(ctx, "/events/healthz")


@check(
    "tenduke.bearer_scheme_case",
    "tenduke",
    "the auth scheme is case-insensitive: 'bearer' and 'BEARER' tokens read the feed (RFC 9110 11.1, RFC 6750)",
    family="tokens",
    operations=("getSourceFeed",),
    needs=("tenduke.client_key",),
)
def tenduke_bearer_scheme_case(ctx: Context) -> None:
    feed = feed_name(ctx, "scheme")
    bearer = token(ctx, {feed: True, "exp": int(time.time()) + 300})
    for scheme in ("bearer", "BEARER", "Bearer"):
        response = ctx.http.get(ctx.url(feed_path(feed)), headers={"Authorization": f"{scheme} {bearer}"})
        expect_status(response, f"Authorization: {scheme} <token>", (200,))
    refused = ctx.http.get(ctx.url(feed_path(feed)), headers={"Authorization": f"Basic {bearer}"})
    expect_refusal(refused, "Authorization: Basic <token>", 401)


@check(
    "tenduke.token_algorithms",
    "tenduke",
    "bearer tokens signed RS384 and RS512 read the feed like RS256 (the three algorithms the API takes)",
    family="tokens",
    operations=("getSourceFeed",),
    needs=("tenduke.client_key",),
)
def tenduke_token_algorithms(ctx: Context) -> None:
    feed = feed_name(ctx, "token_algs")
    claims = {feed: True, "exp": int(time.time()) + 300}
    for alg in ("RS256", "RS384", "RS512"):
        bearer = sign(ctx, claims, alg=alg)
        response = ctx.http.get(ctx.url(feed_path(feed)), headers={"Authorization": f"Bearer {bearer}"})
        expect_status(response, f"a bearer token signed {alg}", (200,))


@check(
    "kosmos.plain_license_states",
    "kosmos",
    "a plain licensekey that is disabled or expired, on healthz and environment: 401, as an unknown one",
    family="licenses",
    operations=("getHealthz", "getEnvironment", "getReportsHealthz"),
    needs=("kosmos.licenses.disabled", "kosmos.licenses.expired"),
)
def kosmos_plain_license_states(ctx: Context) -> None:
    target = kosmos(ctx)
    for path in ("/events/healthz", "/events/environment", "/reports/healthz"):
        for role in ("disabled", "expired"):
            response = ctx.http.get(ctx.url(path), headers={"licensekey": target.licenses[role]})
            expect_refusal(response, f"{path} with a plain {role} license", 401)
        if writer := target.writer():
            expect_status(ctx.http.get(ctx.url(path), headers={"licensekey": writer}), f"{path}, a valid one", (200,))


@check(
    "kosmos.ecdsa_helper_non_utf8",
    "kosmos",
    "ecdsa_helper/decrypt of a token whose plaintext is not UTF-8: 400 in the service's format, on both services; "
    "a UTF-8 one: 200",
    family="envelope",
    operations=("ecdsaHelper", "reportsEcdsaHelper"),
)
def kosmos_ecdsa_helper_non_utf8(ctx: Context) -> None:
    kosmos(ctx)
    curve = service_curve(ctx)
    pairs = wire.kosmos_vectors(curve)["keypairs"]
    mine, theirs = pairs[0], pairs[1]
    key = wire.ecdh_key(mine["privateKey"], theirs["publicKey"], curve)
    body = {"publicKey": theirs["publicKey"], "privateKey": mine["privateKey"]}
    for service in ("events", "reports"):
        url = ctx.url(f"/{service}/ecdsa_helper/decrypt")
        bad = ctx.http.post(url, json={**body, "dataStr": wire.seal(b"\xff\xfe not UTF-8 \xc3", key)})
        expect_refusal(bad, f"/{service}/ecdsa_helper/decrypt of a non-UTF-8 plaintext", 400)
        good = ctx.http.post(url, json={**body, "dataStr": wire.seal("héllo".encode(), key)})
        expect_status(good, f"/{service}/ecdsa_helper/decrypt of UTF-8", (200,))
        if good.json().get("data") != "héllo":
            raise CheckFailed(f"/{service}/ecdsa_helper/decrypt returned {good.json().get('data')!r}", good)


@check(
    "tenduke.kid_is_a_hint",
    "tenduke",
    "a JWS by one registered client carrying the kid (RFC 7638 thumbprint) of another registered client is "
    "accepted: a kid is a hint, every registered key is tried",
    family="keys",
    operations=("putEvents",),
    needs=("tenduke.client_key", "tenduke.second_client_key"),
)
def tenduke_kid_is_a_hint(ctx: Context) -> None:
    from conformance.tenduke_checks import _thumbprint, private_key

    target = tenduke(ctx)
    other = private_key(target.second_private_key_pem or "").public_key()
    feed = feed_name(ctx, "kid_hint")
    body = sign(ctx, events(feed), header={"alg": "RS256", "kid": _thumbprint(other)})
    expect_status(put(ctx, body), "a JWS whose kid names another registered client", (200,))
    if len(read_all(ctx, feed, page_size=100)) != 1:
        raise CheckFailed("the JWS whose kid names another registered client was not stored")
