"""What both clients share: an httpx session and turning refusals into typed exceptions."""

from __future__ import annotations

from typing import Any

import httpx

from eventclient.exceptions import ApiError, ServiceUnreachable

__all__ = ["HttpSession"]


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

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request; raise the client's ApiError for a 4xx/5xx, ServiceUnreachable if nobody answers."""
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceUnreachable(f"cannot reach {url}: {exc}") from exc
        if response.status_code >= 400:
            raise self._refusal(response)
        return response

    def _refusal(self, response: httpx.Response) -> ApiError:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        if isinstance(body, dict):
            error = str(body.get("error", response.reason_phrase))
            message = str(body.get("message", ""))
        else:
            error, message = response.reason_phrase, str(body)[:500]
        return self.error_type(response.status_code, error, message, body)

    def close(self) -> None:
        """Close the underlying connection pool."""
        self.client.close()
