"""Turn a request body into the event the 1Kosmos mock stores. No Flask here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventclient import kosmos_crypto, strict_json
from eventclient.exceptions import CryptoError
from mockserver.kosmos.errors import BodyNotDecryptable, KosmosError
from mockserver.kosmos.store import FIRST_EVENT_SECOND, LAST_EVENT_SECOND

__all__ = [
    "QUERY_HISTORY_DAYS",
    "TO_AFTER_FROM",
    "TO_NOT_BEFORE_FROM",
    "build_event",
    "format_time",
    "open_event_data",
    "parse_event_time",
    "query_bound_errors",
]


def open_event_data(data: Any, key: bytes) -> Any:
    """The event from a body's ``data``: decrypted when it is a string, as sent when an object."""
    if not isinstance(data, str):
        return data
    try:
        return strict_json.loads(kosmos_crypto.decrypt_text(data, key))
    except CryptoError as exc:
        raise BodyNotDecryptable("data: This body can't be decrypted") from exc
    except strict_json.JsonRefused as exc:
        raise BodyNotDecryptable(f"data: the decrypted body is not JSON ({exc})") from exc


def parse_event_time(text: str) -> float:
    """Epoch seconds of a ``YYYY-MM-DD HH:mm:ss.SSS`` (UTC) or ISO 8601 date string."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise KosmosError(f"data.timestamp: {text[:100]!r} is not a readable date") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


QUERY_HISTORY_DAYS = 90
"""How far back the reports service lets ``from`` reach."""


TO_AFTER_FROM = "Date 'to' must be after 'from'"
"""The events query's refusal of a ``to`` not after ``from`` (equal is refused too)."""
TO_NOT_BEFORE_FROM = "Date 'to' must be after or equal to 'from'"
"""The metrics query's refusal of a ``to`` before ``from`` (equal is accepted)."""


def query_bound_errors(
    bounds: dict[str, int], now_ms: int, history_days: int = QUERY_HISTORY_DAYS, *, equal_allowed: bool = False
) -> list[tuple[str, str]]:
    """The refusals of a ``from`` older than ``history_days`` or after now, and of a ``to`` before ``from`` (epoch ms).

    ``to`` equal to ``from`` is refused unless ``equal_allowed``. As ``(param, message)`` pairs, in
    order, in the vendor's words (its reports service's Postman collection): all are reported at once.
    """
    errors = []
    start, end = bounds.get("from"), bounds.get("to")
    if start is not None and not now_ms - history_days * 86_400_000 <= start <= now_ms:
        errors.append(("from", f"Field should be from current time to minus {history_days} days"))
    if start is not None and end is not None and (end < start or (end == start and not equal_allowed)):
        errors.append(("to", TO_NOT_BEFORE_FROM if equal_allowed else TO_AFTER_FROM))
    return errors


def format_time(epoch: float) -> str:
    """``YYYY-MM-DD HH:mm:ss.SSS`` in UTC, the vendor's date format."""
    moment = datetime.fromtimestamp(epoch, UTC)  # spelt out: strftime costs several times more
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}"
    )


def build_event(
    data: dict[str, Any],
    *,
    tenant_id: str,
    community_id: str,
    event_name: str,
    request_id: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    """The stored form: the event as sent, times defaulted, plus the server's fields."""
    if "epoch_time" in data:
        moment = float(data["epoch_time"])
    elif "timestamp" in data:
        moment = parse_event_time(data["timestamp"])
    else:
        moment = now
    if not FIRST_EVENT_SECOND <= moment <= LAST_EVENT_SECOND:
        raise KosmosError("data.epoch_time: out of range")
    event = dict(data)
    event.setdefault("epoch_time", int(moment) if moment == int(moment) else moment)
    event.setdefault("timestamp", format_time(moment))
    event.update(
        tenant_id=tenant_id,
        community_id=community_id,
        eventName=event_name,
        event_ts=round(moment * 1000),
        appid=request_id.get("appid", request_id.get("appId")),
        request_id=request_id["uuid"],
    )
    return event
