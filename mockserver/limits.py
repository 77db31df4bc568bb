"""Request limits that apply to every API: header size (431) and request rate (429)."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request

from mockserver.backend import current_backend
from mockserver.errors import HeaderFieldsTooLarge, TooManyRequests

__all__ = ["check_header_size", "check_rate"]


def check_header_size() -> None:
    """Refuse a request whose largest header field, or all of them together, is over the limits."""
    field_limit = int(current_app.config["MAX_HEADER_LENGTH"])
    total_limit = int(current_app.config["MAX_HEADERS_SIZE"])
    total = 0
    for name, value in request.headers.items():
        size = len(name) + len(value)
        if size > field_limit:
            raise HeaderFieldsTooLarge(f"header {name.lower()} is {size} bytes; at most {field_limit} are accepted")
        total += size
    if total > total_limit:
        raise HeaderFieldsTooLarge(f"the headers are {total} bytes together; at most {total_limit} are accepted")


def check_rate(subject: str | Callable[[], str], who: str) -> None:
    """Count a request of ``subject`` (``who`` names it for the caller); 429 when over the rate limit.

    ``subject`` may be a function, called only when a limit is set.
    """
    limit = int(current_app.config["RATE_LIMIT"])
    if limit <= 0:
        return
    window = float(current_app.config["RATE_LIMIT_WINDOW"])
    wait = current_backend().rate.hit(subject if isinstance(subject, str) else subject(), limit, window)
    if wait is not None:
        raise TooManyRequests(f"rate limit of {limit} requests per {window:g} s exceeded for this {who}", wait)
