"""A client for the 10Duke Event Data API: signed ``/put`` and a reader that pages through feeds."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from eventclient import jws
from eventclient._http import HttpSession, Retry
from eventclient.exceptions import TenDukeApiError

__all__ = ["TenDukeClient"]

_PRIVATE_PEM = re.compile(r"-----BEGIN (?:RSA )?PRIVATE KEY-----.*?-----END (?:RSA )?PRIVATE KEY-----", re.S)


def feed_path(feed: str) -> str:
    """``/get/<feed>``: an event source id, or ``<objectType>/<objectId>``, each part percent-encoded."""
    return "/get/" + "/".join(quote(part, safe="") for part in feed.split("/", 1))


class TenDukeClient:
    """Sign events with a client's RSA private key and send them; read feeds back.

    Like the official reader, a feed read that gets a 429 or 5xx, or no answer, is tried again
    after 1, 2, 4, 8 and 16 s (``retries``, ``backoff``: the first wait); ``retries=0`` turns it off.

    ``private_key_pem`` may hold other PEM blocks too (``eventdouble keys tenduke`` prints the
    private key followed by the public one).
    """

    def __init__(
        self,
        base_url: str,
        private_key_pem: str,
        algorithm: str = "RS256",
        *,
        kid: str | None = None,
        token_lifetime: int = 300,
        session: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 1.0,
    ) -> None:
        match = _PRIVATE_PEM.search(private_key_pem)
        self.private_key_pem = match.group(0) if match else private_key_pem
        jws.load_rsa_private_key(self.private_key_pem)  # fail early on a bad key
        if algorithm not in jws.ALLOWED_ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(jws.ALLOWED_ALGORITHMS)}")
        self.base_url = base_url.rstrip("/")
        self.algorithm = algorithm
        self.kid = kid
        self.token_lifetime = token_lifetime
        self.http = HttpSession(TenDukeApiError, session, transport, timeout)
        self.read_retry = Retry(retries, backoff)
        """Feed reads: retried on 429 and 5xx and when no answer comes, as the official reader does."""
        self.put_retry = Retry(retries, backoff, statuses=frozenset({429, 503}), transport_errors=False)
        """``/put``: retried only when the refusal says nothing was stored (429, 503); a lost answer is not
        retried, since the events may have been stored."""

    def put(self, event_or_events: dict[str, Any] | list[dict[str, Any]]) -> None:
        """``POST /put``: one event or a list, as the payload of a JWS signed with this client's key."""
        body = jws.sign_jws(event_or_events, self.private_key_pem, self.algorithm, kid=self.kid)
        self.http.request(
            "POST",
            f"{self.base_url}/put",
            content=body,
            headers={"Content-Type": "application/jose"},
            retry=self.put_retry,
        )

    def token(self, feed: str = "*", lifetime: int | None = None) -> str:
        """A bearer JWT for ``feed`` (``"*"``: every feed), RS256 as the official reader signs."""
        claims = {feed: True, "iat": int(time.time()), "exp": int(time.time()) + (lifetime or self.token_lifetime)}
        return jws.sign_bearer(claims, self.private_key_pem, "RS256", kid=self.kid)

    def read_page(
        self,
        feed: str,
        *,
        after: int | None = None,
        before: int | None = None,
        page_size: int = 500,
        newest: bool = False,
    ) -> dict[str, Any]:
        """``GET /get/<feed>``: one Feed object."""
        params: dict[str, Any] = {"maxEventCount": page_size}
        if after is not None:
            params["after"] = after
        if before is not None:
            params["before"] = before
        if newest:
            params["newest"] = "true"
        headers = {"Authorization": f"Bearer {self.token(feed)}"}
        url = f"{self.base_url}{feed_path(feed)}"
        response = self.http.request("GET", url, params=params, headers=headers, retry=self.read_retry)
        return response.json()  # type: ignore[no-any-return]

    def read(
        self, feed: str, after: int | None = None, before: int | None = None, page_size: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Every event of ``feed`` after ``after`` (and before ``before``), oldest first.

        Pages as the official reader does: copy ``after`` from the newer instruction until a page
        holds no events.
        """
        while True:
            page = self.read_page(feed, after=after, before=before, page_size=page_size)
            objects = page["objects"]
            events = [o for o in objects if "instruction" not in o]
            if not events:
                return
            yield from events
            newer = next(o for o in reversed(objects) if o.get("instruction") == "newer")
            after = int(parse_qs(urlsplit(newer["url"]).query)["after"][0])

    def close(self) -> None:
        """Close the HTTP session."""
        self.http.close()

    def __enter__(self) -> TenDukeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
