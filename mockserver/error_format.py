"""Which API a path belongs to, and a refusal's body in that API's format.

Used by the app for every refusal, and by both servers for the requests they refuse before the app
sees them (a request line too long, too many headers, a malformed header), so that no answer of the
mock is ever HTML.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from mockserver.kosmos import errors as kosmos_errors

__all__ = ["api_of", "error_body", "error_json", "raw_refusal"]

MAX_MESSAGE = 300
"""Characters of a server's own refusal message that are sent back."""


def api_of(path: str | None) -> str | None:
    """Which API a path belongs to, for its error format and the journal."""
    if path is None:
        return None
    if path.startswith(("/events/", "/reports/", "/caas/", "/api/r1/")) or path in ("/events", "/reports"):
        return "kosmos"
    if path.startswith("/__admin"):
        return "admin"
    if path.startswith(("/get/", "/put")) or path == "/get":
        return "tenduke"
    return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(
    path: str | None, status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The refusal body for ``path``, in the format of its API or service.

    ``{statusCode, error, message}`` (1Kosmos), ``{errors: [{message, param}]}`` (the 1Kosmos
    reports service) or ``{error, message}`` (10Duke, admin). When the path is unknown (the request
    line could not be read), the 1Kosmos body is sent: it carries both ``error`` and ``message``
    too. ``param`` names the part at fault for the reports envelope (else read from the message).
    """
    if path is not None and kosmos_errors.is_reports_path(path):
        return kosmos_errors.render_reports(status, message, param)
    if path is None or api_of(path) == "kosmos":
        return kosmos_errors.render(status, message)
    return {"error": code or _phrase(status).lower().replace(" ", "_"), "message": message}


def error_json(path: str | None, status: int, message: str) -> bytes:
    """:func:`error_body` as UTF-8 JSON bytes."""
    return json.dumps(error_body(path, status, message)).encode()


def raw_refusal(path: str | None, status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer refusing a request in the API's JSON format; the connection is closed after it."""
    body = error_json(path, status, message[:MAX_MESSAGE] or reason)
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body
