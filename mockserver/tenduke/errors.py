"""10Duke refusals, rendered as ``{"error": "<code>", "message": "..."}``."""

from __future__ import annotations

from mockserver.errors import ApiError

__all__ = [
    "ClientKeyRejected",
    "FeedForbidden",
    "InvalidEvent",
    "InvalidJws",
    "InvalidToken",
    "TenDukeError",
    "TooManyEvents",
]


class TenDukeError(ApiError):
    """Root of the 10Duke refusals."""


class InvalidJws(TenDukeError):
    """The JWS is refused: algorithm, signature or key."""

    status = 401
    code = "invalid_signature"


class InvalidToken(TenDukeError):
    """The bearer token is refused: signature, algorithm, expiry."""

    status = 401
    code = "invalid_token"


class FeedForbidden(TenDukeError):
    """A valid token without the claim for this feed."""

    status = 403
    code = "forbidden"


class InvalidEvent(TenDukeError):
    """The payload is not an event or an array of events, or an event fails the envelope schema."""

    code = "invalid_event"


class TooManyEvents(TenDukeError):
    """More events in one request than the configured maximum."""

    status = 413
    code = "too_many_events"


class ClientKeyRejected(ApiError):
    """A client public key the admin API will not register."""

    code = "invalid_key"
