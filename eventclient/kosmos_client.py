"""A client for the 1Kosmos Events API: builds the three headers and encrypts bodies for every call."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx

from eventclient import kosmos_crypto
from eventclient._http import HttpSession
from eventclient.exceptions import CryptoError, KosmosApiError, UnexpectedResponse

__all__ = ["KosmosClient"]


def _segment(value: str) -> str:
    """One path segment, percent-encoded: a `/`, `?` or `#` in an id cannot reach another tenant."""
    return quote(str(value), safe="")


class KosmosClient:
    """Talk to a 1Kosmos Events service (the vendor's, or the mock).

    ``base_url`` is the events service, e.g. ``https://pilot-root.1kosmos.net/events`` (a host
    root is taken too: ``/events`` is added). The event query goes to the sibling ``/reports``
    service unless ``reports_url`` says otherwise. A fresh key pair is made unless ``keypair`` is
    given; the service does not need to know it.
    """

    def __init__(
        self,
        base_url: str,
        license_key: str,
        keypair: kosmos_crypto.KeyPair | None = None,
        *,
        app_id: str = "eventdouble",
        reports_url: str | None = None,
        session: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        base_url = base_url.rstrip("/")
        if not base_url.endswith("/events"):
            base_url += "/events"
        self.base_url = base_url
        self.reports_url = (reports_url or base_url.removesuffix("/events") + "/reports").rstrip("/")
        self.license_key = license_key
        self.keypair = keypair or kosmos_crypto.generate_keypair()
        self.app_id = app_id
        self.http = HttpSession(KosmosApiError, session, transport, timeout)
        self._service_key: str | None = None
        self._shared_key: bytes | None = None

    # keys and headers -------------------------------------------------------------------------
    @property
    def service_public_key(self) -> str:
        """The service's public key (fetched once from ``/publickeys``)."""
        if self._service_key is None:
            self._service_key = self.public_key()
        return self._service_key

    @property
    def shared_key(self) -> bytes:
        """The AES key this client shares with the service."""
        if self._shared_key is None:
            self._shared_key = kosmos_crypto.shared_key(self.keypair.private_key, self.service_public_key)
        return self._shared_key

    def forget_service_key(self) -> None:
        """Fetch the service key again on the next call (after a service key reset)."""
        self._service_key = self._shared_key = None

    def encrypt(self, value: Any) -> str:
        """Encrypt a string as is, anything else as JSON, with the shared key."""
        text = value if isinstance(value, str) else json.dumps(value)
        return kosmos_crypto.encrypt(text, self.shared_key)

    def decrypt(self, token: str) -> str:
        """Decrypt a token sealed with the shared key."""
        return kosmos_crypto.decrypt_text(token, self.shared_key)

    def request_id(self, ts: float | None = None) -> dict[str, Any]:
        """A fresh request id: now, a new uuid, this client's app id."""
        return {"ts": int(time.time() if ts is None else ts), "uuid": str(uuid.uuid4()), "appid": self.app_id}

    def auth_headers(self, request_id: dict[str, Any] | None = None) -> dict[str, str]:
        """The three headers of an authenticated call; a new request id each time."""
        return {
            "publickey": self.keypair.public_key,
            "licensekey": self.encrypt(self.license_key),
            "requestid": self.encrypt(json.dumps(request_id or self.request_id())),
        }

    # transport --------------------------------------------------------------------------------
    def _call(self, method: str, url: str, *, auth: bool = False, **kwargs: Any) -> Any:
        headers = {**(self.auth_headers() if auth else {}), **kwargs.pop("headers", {})}
        response = self.http.request(method, url, headers=headers, **kwargs)
        if not response.content:
            return None
        try:
            body = response.json()
        except ValueError as exc:
            raise UnexpectedResponse(
                f"{method} {url} answered {response.status_code} with a body that is not JSON"
            ) from exc
        return self._open(body) if auth else body

    def _open(self, body: Any) -> Any:
        """Decrypt a ``{"data": "<ciphertext>"}`` response; anything else is returned as is."""
        if isinstance(body, dict) and set(body) == {"data"} and isinstance(body["data"], str):
            try:
                return json.loads(self.decrypt(body["data"]))
            except (CryptoError, ValueError):
                return body
        return body

    # endpoints --------------------------------------------------------------------------------
    def healthz(self, synthetic_heartbeat: str | None = None) -> dict[str, Any]:
        """``GET /healthz``."""
        headers = {"synthetic-heartbeat": synthetic_heartbeat} if synthetic_heartbeat else {}
        return self._call("GET", f"{self.base_url}/healthz", headers=headers)  # type: ignore[no-any-return]

    def public_key(self) -> str:
        """``GET /publickeys``: the service public key."""
        body = self._call("GET", f"{self.base_url}/publickeys")
        if not isinstance(body, dict) or not isinstance(body.get("publicKey"), str):
            raise UnexpectedResponse(f"GET {self.base_url}/publickeys answered {str(body)[:100]!r}, not a publicKey")
        return str(body["publicKey"])

    def environment(self) -> dict[str, Any]:
        """``GET /environment``, with the plain license key."""
        return self._call("GET", f"{self.base_url}/environment", headers={"licensekey": self.license_key})  # type: ignore[no-any-return]

    def service_directory(self) -> dict[str, str]:
        """``GET /sd``: service name to URL."""
        return self._call("GET", f"{self.base_url}/sd")  # type: ignore[no-any-return]

    def service_keys(self) -> list[dict[str, Any]]:
        """``GET /servicekeys`` (a system license)."""
        return self._call("GET", f"{self.base_url}/servicekeys", auth=True)  # type: ignore[no-any-return]

    def reset_service_key(self, key_id: str) -> dict[str, Any]:
        """``DELETE /servicekey/{keyId}`` (a system license); later calls use the new key."""
        result = self._call("DELETE", f"{self.base_url}/servicekey/{key_id}", auth=True)
        self.forget_service_key()
        return result  # type: ignore[no-any-return]

    def ecdsa_helper(self, method: str, data_str: str, public_key: str, private_key: str) -> str:
        """``POST /ecdsa_helper/{encrypt|decrypt}``: the service encrypts or decrypts for you."""
        body = {"dataStr": data_str, "publicKey": public_key, "privateKey": private_key}
        return str(self._call("POST", f"{self.base_url}/ecdsa_helper/{method}", json=body)["data"])

    def put_event(
        self, tenant_id: str, community_id: str, event_name: str, data: dict[str, Any], *, encrypt: bool = True
    ) -> None:
        """``PUT /tenant/{t}/community/{c}/event/{name}`` with ``data`` encrypted (or plain)."""
        where = f"tenant/{_segment(tenant_id)}/community/{_segment(community_id)}"
        url = f"{self.base_url}/{where}/event/{_segment(event_name)}"
        self._call("PUT", url, auth=True, json={"data": self.encrypt(data) if encrypt else data})

    def query_events(
        self,
        tenant_id: str,
        community_id: str,
        *,
        page_size: int = 25,
        page_index: int = 0,
        start: str | None = None,
        end: str | None = None,
        event_name: str | None = None,
    ) -> dict[str, Any]:
        """``POST /reports/tenant/{t}/community/{c}/events``: one page, ``{"page", "data"}``.

        ``start``/``end`` are ``YYYY-MM-DD HH:MM:SS.SSS`` in UTC, inclusive.
        """
        body: dict[str, Any] = {"pSize": page_size, "pIndex": page_index}
        if start:
            body["from"] = start
        if end:
            body["to"] = end
        if event_name:
            body["query"] = {"event_name": event_name}
        url = f"{self.reports_url}/tenant/{_segment(tenant_id)}/community/{_segment(community_id)}/events"
        return self._call("POST", url, auth=True, json=body)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the HTTP session."""
        self.http.close()

    def __enter__(self) -> KosmosClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
