"""HTTP layer of the 10Duke mock: ``POST /put`` and the ``/get`` feeds, routed by the spec (mockserver/vendor.py)."""

from __future__ import annotations

from typing import Any

from flask import Response

from eventclient import jws, strict_json
from eventclient.exceptions import CryptoError, MalformedJws
from mockserver.errors import RequestValidationError
from mockserver.limits import check_rate
from mockserver.tenduke.errors import FeedForbidden, InvalidEvent, InvalidJws, InvalidToken, TooManyEvents
from mockserver.tenduke.feed import read_page
from mockserver.tenduke.store import FeedKey
from mockserver.vendor import Exchange, empty_answer

__all__ = ["HANDLERS"]


def _events_of(x: Exchange, payload: bytes) -> list[dict[str, Any]]:
    """The events of a verified JWS payload, checked against the spec's payload schema."""
    try:
        value = strict_json.loads(payload)
    except strict_json.JsonRefused as exc:
        raise InvalidEvent(f"the JWS payload is not JSON: {exc}") from exc
    events = value if isinstance(value, list) else [value]
    limit = int(x.config["MAX_EVENTS_PER_PUT"])
    if len(events) > limit:
        raise TooManyEvents(f"{len(events)} events in one request; at most {limit} are accepted")
    for name in x.operation.extension("x-null-means-absent", ()):
        for event in events:
            if isinstance(event, dict) and name in event and event[name] is None:
                del event[name]
    try:
        x.spec.check(x.operation.extension("x-jws-payload-schema").removeprefix("#"), value, "payload")
    except RequestValidationError as exc:
        raise InvalidEvent(exc.message) from exc
    return events


def _check_client_rate(x: Exchange, key_id: str) -> None:
    """Count a request against the rate limit of the client whose key verified it."""
    check_rate(x, lambda: f"tenduke:{x.backend.tenduke.client_id_of(key_id)}", "client key")


def put_events(x: Exchange) -> Response:
    backend = x.backend
    token = x.checked.body
    try:
        verified = jws.verify_jws(token, backend.tenduke.key_ring())
    except MalformedJws as exc:
        raise InvalidEvent(str(exc)) from exc
    except CryptoError as exc:
        raise InvalidJws(str(exc)) from exc
    _check_client_rate(x, verified.key_id)
    backend.tenduke.put_events(_events_of(x, verified.payload))
    return empty_answer()


def _authorize(x: Exchange, feed: FeedKey) -> None:
    backend = x.backend
    scheme, _, token = x.request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():  # the spec's security says so first; this holds without it
        raise RequestValidationError("Authorization: a Bearer token is required", 401)
    token = token.strip()
    try:
        claims, key_id = jws.verify_bearer(token, backend.tenduke.key_ring(), now=backend.clock())
    except CryptoError as exc:
        raise InvalidToken(str(exc)) from exc
    _check_client_rate(x, key_id)
    if claims.get(feed.name) is not True and claims.get("*") is not True:
        raise FeedForbidden(f"the token has no claim {feed.name!r}: true (nor '*': true)")


def _feed(x: Exchange, feed: FeedKey) -> Response:
    _authorize(x, feed)
    query = x.checked.query
    page = read_page(
        x.backend.tenduke,
        feed,
        x.request.full_path.rstrip("?"),
        after=query.get("after"),
        before=query.get("before"),
        limit=query["maxEventCount"],
        newest=query["newest"],
        max_bytes=int(x.config["MAX_PAGE_BYTES"]),
    )
    return Response(page.to_json_text(), mimetype="application/json")


def get_source_feed(x: Exchange, eventSourceId: str) -> Response:  # noqa: N803 - the spec's parameter name
    return _feed(x, FeedKey(source_id=eventSourceId))


def get_object_feed(x: Exchange, eventObjectType: str, eventObjectId: str) -> Response:  # noqa: N803
    return _feed(x, FeedKey(object_type=eventObjectType, object_id=eventObjectId))


HANDLERS = {
    "putEvents": put_events,
    "getSourceFeed": get_source_feed,
    "getObjectFeed": get_object_feed,
}
