"""Request limits that apply to every API: header size (431), streamed body size (413), request rate (429)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Config, Request

from mockserver.errors import HeaderFieldsTooLarge, PayloadTooLarge, RequestValidationError, TooManyRequests

if TYPE_CHECKING:
    from mockserver.vendor import Exchange

__all__ = ["bound_streamed_body", "check_headers", "check_rate"]


def bound_streamed_body(request: Request, config: Config) -> None:
    """Read a body sent without ``Content-Length`` (chunked) up to the limit; 413 if it goes on.

    werkzeug would stop reading at the limit and hand the app a truncated body (answered 400 as
    broken JSON). The body read here replaces the stream, with its length, for everything after.
    """
    environ = request.environ
    if "wsgi.input_terminated" not in environ or request.content_length is not None:
        return
    limit = int(config["MAX_CONTENT_LENGTH"])
    data = environ["wsgi.input"].read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(data), str(len(data))
    environ.pop("HTTP_TRANSFER_ENCODING", None)


_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
"""Characters no header field value may hold (RFC 9110 5.5); a server may pass them on."""


def check_headers(request: Request, config: Config) -> None:
    """Refuse a request whose header fields are over the size limits (431), or hold a control character (400).

    A field over ``MAX_HEADER_LENGTH``, or all of them over ``MAX_HEADERS_SIZE``, is too large; NUL,
    CR, LF or another control character in a value is malformed (RFC 9110 5.5). The fields are
    read from the WSGI environ, where a name keeps its length (``HTTP_`` plus the name).
    """
    field_limit = int(config["MAX_HEADER_LENGTH"])
    total_limit = int(config["MAX_HEADERS_SIZE"])
    total = 0
    for key, value in request.environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in _UNPREFIXED:
            name = key
        else:
            continue
        size = len(name) + len(value)
        if size > field_limit:
            raise HeaderFieldsTooLarge(f"header {_spelled(name)} is {size} bytes; at most {field_limit} are accepted")
        if _CONTROL.search(value):
            raise RequestValidationError(f"header {_spelled(name)[:100]} holds a control character")
        total += size
    if total > total_limit:
        raise HeaderFieldsTooLarge(f"the headers are {total} bytes together; at most {total_limit} are accepted")


_UNPREFIXED = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})
"""The two header fields WSGI keeps without the ``HTTP_`` prefix."""


def _spelled(environ_name: str) -> str:
    return environ_name.lower().replace("_", "-")


def check_rate(exchange: Exchange, subject: str | Callable[[], str], who: str) -> None:
    """Count a request of ``subject`` (``who`` names it for the caller); 429 when over the rate limit.

    ``subject`` may be a function, called only when a limit is set.
    """
    limit = int(exchange.config["RATE_LIMIT"])
    if limit <= 0:
        return
    window = float(exchange.config["RATE_LIMIT_WINDOW"])
    wait = exchange.backend.rate.hit(subject if isinstance(subject, str) else subject(), limit, window)
    if wait is not None:
        raise TooManyRequests(f"rate limit of {limit} requests per {window:g} s exceeded for this {who}", wait)
