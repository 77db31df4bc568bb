"""Security and round-trip checks of a 10Duke Event Data service, each registered by name."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from functools import cache
from typing import Any

import httpx

from conformance.core import CheckFailed, Context, SkipCheck, TenDukeTarget, check, expect_status
from eventclient import jws
from eventclient.tenduke_client import feed_path

API = "tenduke"
MAX_PAGES = 50
NONE_HEADER = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()


def _target(ctx: Context) -> TenDukeTarget:
    if ctx.target.tenduke is None:
        raise SkipCheck("no 10Duke credentials given")
    return ctx.target.tenduke


@cache
def _stranger_key(bits: int) -> jws.PemKeyPair:
    """A key pair the target has never seen, made once per process (1024 bits: the weak-key check only)."""
    return jws.generate_rsa_keypair(bits)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _events(ctx: Context, what: str, count: int = 1) -> list[dict[str, Any]]:
    feed = _target(ctx).feed
    return [
        {"eventSourceId": feed, "eventType": f"conformance_{what}", "marker": ctx.run_id, "n": n} for n in range(count)
    ]


def _put(ctx: Context, body: str) -> httpx.Response:
    return ctx.http.post(ctx.url("/put"), content=body, headers={"Content-Type": "application/jose"})


def _sign(ctx: Context, payload: Any, private_pem: str | None = None, algorithm: str = "RS256") -> str:
    return jws.sign_jws(payload, private_pem or _target(ctx).private_key_pem, algorithm)


def _token(ctx: Context, claims: dict[str, Any] | None = None, private_pem: str | None = None) -> str:
    claims = claims or {_target(ctx).feed: True, "exp": int(time.time()) + 300}
    return jws.sign_bearer(claims, private_pem or _target(ctx).private_key_pem)


def _get(ctx: Context, path: str, token: str) -> httpx.Response:
    return ctx.http.get(ctx.url(path), headers={"Authorization": f"Bearer {token}"})


def _newest_cursor(ctx: Context) -> int:
    """The ``eventReceived`` of the feed's newest event now (0 for an empty feed)."""
    response = _get(ctx, feed_path(_target(ctx).feed) + "?newest=true&maxEventCount=1", _token(ctx))
    expect_status(response, "reading the newest page", (200,))
    events = [o for o in response.json().get("objects", []) if "instruction" not in o]
    return int(events[-1]["eventReceived"]) if events else 0


def _read_after(ctx: Context, after: int, page_size: int = 2) -> list[dict[str, Any]]:
    """Every event after ``after``, following newer links; checks each page's shape on the way."""
    path, seen = f"{feed_path(_target(ctx).feed)}?after={after}", []
    for _ in range(MAX_PAGES):
        response = _get(ctx, f"{path}&maxEventCount={page_size}", _token(ctx))
        expect_status(response, f"GET {path}", (200,))
        objects = response.json().get("objects", [])
        if not objects or objects[0].get("instruction") != "older":
            raise CheckFailed("a feed page does not start with the 'older' instruction", response)
        if objects[-1].get("instruction") != "newer":
            raise CheckFailed("a feed page does not end with the 'newer' instruction", response)
        events = objects[1:-1]
        if not events:
            return seen
        seen.extend(events)
        path = objects[-1]["url"]
    raise CheckFailed(f"following the newer links did not reach an empty page within {MAX_PAGES} pages")


def _mine(ctx: Context, events: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("marker") == ctx.run_id and e.get("eventType") == f"conformance_{what}"]


@check("tenduke.signed_put_accepted", API, "a signed /put is accepted with 200 and an empty body")
def signed_put_accepted(ctx: Context) -> None:
    response = _put(ctx, _sign(ctx, _events(ctx, "accepted")[0]))
    expect_status(response, "signed /put", (200,))
    if response.content:
        raise CheckFailed(f"/put answered a body ({response.content[:100]!r}); the API answers an empty one", response)


@check("tenduke.round_trip", API, "put events come back from /get once each, in order, with eventId and eventReceived")
def round_trip(ctx: Context) -> None:
    cursor = _newest_cursor(ctx)
    sent = _events(ctx, "roundtrip", 5)
    expect_status(_put(ctx, _sign(ctx, sent)), "signed /put of 5 events", (200,))
    got = _mine(ctx, _read_after(ctx, cursor), "roundtrip")
    if [e.get("n") for e in got] != [0, 1, 2, 3, 4]:
        raise CheckFailed(
            f"paging by the newer links returned n={[e.get('n') for e in got]}, expected [0..4] once each"
        )
    received = [e.get("eventReceived") for e in got]
    if not all(isinstance(r, int) for r in received) or received != sorted(set(received)):
        raise CheckFailed(f"eventReceived is not strictly increasing: {received}")
    for event in got:
        try:
            uuid.UUID(str(event.get("eventId")))
        except ValueError as exc:
            raise CheckFailed(f"a stored event has no generated eventId: {event}") from exc


@check("tenduke.batch_is_atomic", API, "a batch with one invalid event is refused (400) and stores nothing")
def batch_is_atomic(ctx: Context) -> None:
    cursor = _newest_cursor(ctx)
    batch = [*_events(ctx, "atomic", 2), {"eventSourceId": _target(ctx).feed, "marker": ctx.run_id}]
    expect_status(_put(ctx, _sign(ctx, batch)), "batch with an event without eventType", (400,))
    if _mine(ctx, _read_after(ctx, cursor), "atomic"):
        raise CheckFailed("part of a refused batch was stored")


def _refused_put(ctx: Context, body: str, what: str) -> None:
    cursor = _newest_cursor(ctx)
    expect_status(_put(ctx, body), what, (401,))
    if _mine(ctx, _read_after(ctx, cursor), "refused"):
        raise CheckFailed(f"{what}: the refused event was stored anyway")


@check("tenduke.alg_none_refused", API, "an unsigned JWS (alg none) is refused (401)")
def alg_none_refused(ctx: Context) -> None:
    payload = _b64url(json.dumps(_events(ctx, "refused")[0]).encode())
    _refused_put(ctx, f"{NONE_HEADER}.{payload}.", "alg none")


@check("tenduke.hs256_with_public_key_refused", API, "HS256 keyed with the client's public key PEM is refused (401)")
def hs256_with_public_key_refused(ctx: Context) -> None:
    public_pem = jws.load_rsa_private_key(_target(ctx).private_key_pem).public_key().public_bytes(*_spki()).decode()
    header, payload = _b64url(b'{"alg":"HS256"}'), _b64url(json.dumps(_events(ctx, "refused")[0]).encode())
    mac = hmac.new(public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    _refused_put(ctx, f"{header}.{payload}.{_b64url(mac)}", "HS256 keyed with the public key")


def _spki() -> tuple[Any, Any]:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo


@check("tenduke.tampered_jws_refused", API, "a JWS with a changed payload or signature is refused (401)")
def tampered_jws_refused(ctx: Context) -> None:
    header, _, signature = _sign(ctx, _events(ctx, "genuine")[0]).split(".")
    forged = _b64url(json.dumps(_events(ctx, "refused")[0]).encode())
    _refused_put(ctx, f"{header}.{forged}.{signature}", "tampered payload")
    header, payload, signature = _sign(ctx, _events(ctx, "refused")[0]).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[-1] ^= 1
    _refused_put(ctx, f"{header}.{payload}.{_b64url(bytes(raw))}", "tampered signature")


@check("tenduke.unregistered_key_refused", API, "a JWS signed by a key the target does not know is refused (401)")
def unregistered_key_refused(ctx: Context) -> None:
    _refused_put(ctx, _sign(ctx, _events(ctx, "refused")[0], _stranger_key(2048).private_pem), "unregistered key")


@check("tenduke.weak_key_refused", API, "a JWS signed with a 1024-bit RSA key is refused (401)")
def weak_key_refused(ctx: Context) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    weak = jws.load_rsa_private_key(_stranger_key(1024).private_pem)
    signing_input = _b64url(b'{"alg":"RS256"}') + "." + _b64url(json.dumps(_events(ctx, "refused")[0]).encode())
    signature = weak.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())  # by hand: pyjwt warns
    _refused_put(ctx, f"{signing_input}.{_b64url(signature)}", "1024-bit key")


@check("tenduke.expired_token_refused", API, "an expired bearer token is refused (401)")
def expired_token_refused(ctx: Context) -> None:
    token = _token(ctx, {_target(ctx).feed: True, "exp": int(time.time()) - 600})
    expect_status(_get(ctx, feed_path(_target(ctx).feed), token), "expired token", (401,))


@check("tenduke.unsigned_token_refused", API, "a bearer token with alg none is refused (401)")
def unsigned_token_refused(ctx: Context) -> None:
    claims = _b64url(json.dumps({_target(ctx).feed: True, "exp": int(time.time()) + 300}).encode())
    expect_status(_get(ctx, feed_path(_target(ctx).feed), f"{NONE_HEADER}.{claims}."), "alg none token", (401,))


@check("tenduke.wrong_feed_token_refused", API, "a bearer token for another feed is refused (403)")
def wrong_feed_token_refused(ctx: Context) -> None:
    token = _token(ctx, {f"conformance-other-{ctx.run_id}": True, "exp": int(time.time()) + 300})
    expect_status(_get(ctx, feed_path(_target(ctx).feed), token), "token for another feed", (401, 403))


@check("tenduke.missing_token_refused", API, "reading a feed without a bearer token is refused (401)")
def missing_token_refused(ctx: Context) -> None:
    response = ctx.http.get(ctx.url(feed_path(_target(ctx).feed)))
    expect_status(response, "no Authorization header", (401,))
