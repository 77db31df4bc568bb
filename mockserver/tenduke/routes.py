"""HTTP layer of the 10Duke mock: ``POST /put`` and the ``/get`` feeds. Routes come from the spec."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from eventclient import jws, strict_json
from eventclient.exceptions import CryptoError, MalformedJws
from mockserver.backend import current_backend
from mockserver.errors import RequestValidationError
from mockserver.limits import check_rate
from mockserver.routing import current_operation, spec_blueprint, validated
from mockserver.tenduke.errors import FeedForbidden, InvalidEvent, InvalidJws, InvalidToken, TooManyEvents
from mockserver.tenduke.feed import read_page
from mockserver.tenduke.store import FeedKey

__all__ = ["HANDLERS", "create_blueprint"]


def _events_of(payload: bytes) -> list[dict[str, Any]]:
    """The events of a verified JWS payload, checked against the spec's payload schema."""
    try:
        value = strict_json.loads(payload)
    except strict_json.JsonRefused as exc:
        raise InvalidEvent(f"the JWS payload is not JSON: {exc}") from exc
    events = value if isinstance(value, list) else [value]
    limit = int(current_app.config["MAX_EVENTS_PER_PUT"])
    if len(events) > limit:
        raise TooManyEvents(f"{len(events)} events in one request; at most {limit} are accepted")
    spec, op = current_operation()
    try:
        spec.check(op.extension("x-jws-payload-schema").removeprefix("#"), value, "payload")
    except RequestValidationError as exc:
        raise InvalidEvent(exc.message) from exc
    return events


def _check_client_rate(key_id: str) -> None:
    """Count a request against the rate limit of the client whose key verified it."""
    check_rate(lambda: f"tenduke:{current_backend().tenduke.client_id_of(key_id)}", "client key")


def put_events() -> Response:
    backend = current_backend()
    token = validated().body
    try:
        verified = jws.verify_jws(token, backend.tenduke.key_ring())
    except MalformedJws as exc:
        raise InvalidEvent(str(exc)) from exc
    except CryptoError as exc:
        raise InvalidJws(str(exc)) from exc
    _check_client_rate(verified.key_id)
    backend.tenduke.put_events(_events_of(verified.payload))
    return Response(status=200)


def _authorize(feed: FeedKey) -> None:
    backend = current_backend()
    token = request.headers["Authorization"].split(None, 1)[1].strip()
    try:
        claims, key_id = jws.verify_bearer(token, backend.tenduke.key_ring(), now=backend.clock())
    except CryptoError as exc:
        raise InvalidToken(str(exc)) from exc
    _check_client_rate(key_id)
    if claims.get(feed.name) is not True and claims.get("*") is not True:
        raise FeedForbidden(f"the token has no claim {feed.name!r}: true (nor '*': true)")


def _feed(feed: FeedKey) -> Response:
    _authorize(feed)
    query = validated().query
    page = read_page(
        current_backend().tenduke,
        feed,
        request.full_path.rstrip("?"),
        after=query.get("after"),
        before=query.get("before"),
        limit=query["maxEventCount"],
        newest=query["newest"],
        max_bytes=int(current_app.config["MAX_PAGE_BYTES"]),
    )
    return Response(page.to_json_text(), mimetype="application/json")


def get_source_feed(eventSourceId: str) -> Response:  # noqa: N803 - the spec's parameter name
    return _feed(FeedKey(source_id=eventSourceId))


def get_object_feed(eventObjectType: str, eventObjectId: str) -> Response:  # noqa: N803
    return _feed(FeedKey(object_type=eventObjectType, object_id=eventObjectId))


HANDLERS = {
    "putEvents": put_events,
    "getSourceFeed": get_source_feed,
    "getObjectFeed": get_object_feed,
}


def create_blueprint() -> Blueprint:
    """The 10Duke blueprint (``/put``, ``/get``), routed and validated by its spec."""
    return spec_blueprint("tenduke", "tenduke-events", HANDLERS)
