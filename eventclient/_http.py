"""What both clients share: an httpx session, retries with back-off, and refusals as typed exceptions."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx

from eventclient.exceptions import ApiError, ServiceUnreachable

__all__ = ["HttpSession", "Retry"]

log = logging.getLogger("eventclient")

MAX_RETRY_AFTER = 60.0
"""The longest ``Retry-After`` a retry waits for; a longer one is answered by giving up."""


@dataclass(frozen=True)
class Retry:
    """When to send a request again: after ``backoff``, 2x, 4x... seconds, at most ``attempts`` times.

    The official 10Duke reader retries five times, after 1, 2, 4, 8 and 16 s: ``Retry()``. A
    ``Retry-After`` longer than the back-off is waited for instead (up to a minute).
    """

    attempts: int = 5
    backoff: float = 1.0
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    transport_errors: bool = True
    """Also retry when no answer came (refused or dropped connection, timeout): only for reads."""

    def delays(self) -> list[float]:
        """The wait before each retry."""
        return [self.backoff * 2**n for n in range(self.attempts)]


NO_RETRY = Retry(attempts=0)


class HttpSession:
    """An ``httpx.Client`` (or one given by the caller, e.g. with a WSGI transport) and error mapping."""

    def __init__(
        self,
        error_type: type[ApiError],
        session: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.error_type = error_type
        self.client = session or httpx.Client(transport=transport, timeout=timeout)

    def request(self, method: str, url: str, *, retry: Retry = NO_RETRY, **kwargs: Any) -> httpx.Response:
        """Send a request, again as ``retry`` says; each retry is logged (``eventclient`` logger, INFO).

        Raises the client's ApiError for a 4xx/5xx, ServiceUnreachable if nobody answers.
        """
        delays = retry.delays()
        for attempt in range(len(delays) + 1):
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if not retry.transport_errors or attempt == len(delays):
                    raise ServiceUnreachable(f"cannot reach {url}: {exc}") from exc
                why, wait = f"{type(exc).__name__}", delays[attempt]
            else:
                if response.status_code < 400:
                    return response
                wait = _wait(response, delays[attempt]) if attempt < len(delays) else None
                if response.status_code not in retry.statuses or wait is None:
                    raise self._refusal(response)
                why = str(response.status_code)
            log.info("%s from %s %s; retry %d of %d in %g s", why, method, url, attempt + 1, len(delays), wait)
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _refusal(self, response: httpx.Response) -> ApiError:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
            # the 1Kosmos reports service: {"errors": [{"message", "param"}, ...]}
            error = response.reason_phrase
            message = "; ".join(f"{e.get('param')}: {e.get('message')}" for e in errors)
        elif isinstance(body, dict):
            error = str(body.get("error", response.reason_phrase))
            message = str(body.get("message", ""))
        else:
            error, message = response.reason_phrase, str(body)[:500]
        return self.error_type(response.status_code, error, message, body)

    def close(self) -> None:
        """Close the underlying connection pool."""
        self.client.close()


def _wait(response: httpx.Response, backoff: float) -> float | None:
    """The back-off, or the answer's ``Retry-After`` (seconds) if longer; None if that is over a minute."""
    try:
        retry_after = float(response.headers.get("Retry-After", "0"))
    except ValueError:
        retry_after = 0.0
    if not math.isfinite(retry_after) or retry_after > MAX_RETRY_AFTER:
        return None
    return max(backoff, retry_after)
