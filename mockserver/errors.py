"""The exception root of the mock; each API renders :class:`ApiError` in its own format."""

from __future__ import annotations

__all__ = [
    "ApiError",
    "HeaderFieldsTooLarge",
    "NotFound",
    "PayloadTooLarge",
    "RequestValidationError",
    "StorageBusy",
    "StorageFull",
    "StorageUnavailable",
    "TooManyRequests",
    "UnsupportedMediaType",
]


class ApiError(Exception):
    """A refusal with an HTTP status and a message meant for the caller."""

    status = 400
    code = "bad_request"
    retry_after: float | None = None
    """Seconds after which a retry may succeed, sent as ``Retry-After``; None for no header."""
    param: str | None = None
    """The request part at fault (a header or body field), for the reports service's envelope; None: read
    from the message's ``part: text`` prefix."""
    reports_message: str | None = None
    """The reports service's own words for this refusal (``This field should not be empty`` for a missing or
    empty field, or a schema's ``x-refusal-message``); None: the message without its ``part:`` prefix."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def body(self) -> dict[str, object] | None:
        """A body of its own, for refusals not in their API's usual format; None for the usual one."""
        return None


class RequestValidationError(ApiError):
    """The request does not match the OpenAPI spec."""


class UnsupportedMediaType(ApiError):
    """The body has a content type the operation does not take."""

    status = 415
    code = "unsupported_media_type"


class PayloadTooLarge(ApiError):
    """The body is over the configured size."""

    status = 413
    code = "payload_too_large"


class NotFound(ApiError):
    """No such route or record."""

    status = 404
    code = "not_found"


class HeaderFieldsTooLarge(ApiError):
    """A header field, or all of them together, are over the configured size."""

    status = 431
    code = "request_header_fields_too_large"


class TooManyRequests(ApiError):
    """A license or client key is over its configured request rate."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageFull(ApiError):
    """The database cannot grow (disk full, or its size limit): nothing of the request was stored."""

    status = 507
    code = "insufficient_storage"


class StorageBusy(ApiError):
    """The database stayed locked by another writer for longer than the busy timeout."""

    status = 503
    code = "service_unavailable"
    retry_after = 1.0


class StorageUnavailable(ApiError):
    """The database cannot be read or written (an I/O error): nothing of the request was stored."""

    status = 503
    code = "service_unavailable"
    retry_after = 5.0
