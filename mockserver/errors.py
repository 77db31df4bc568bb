"""The exception root of the mock; each API renders :class:`ApiError` in its own format."""

from __future__ import annotations

__all__ = ["ApiError", "NotFound", "PayloadTooLarge", "RequestValidationError", "UnsupportedMediaType"]


class ApiError(Exception):
    """A refusal with an HTTP status and a message meant for the caller."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


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
