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
    root is taken too: ``/events`` is added). The event query and metrics go to the sibling
    ``/reports`` service unless ``reports_url`` says otherwise. Each service has its own key pair:
    the headers of a call are encrypted to the key of the service called (fetched once from its
    ``/publickeys``). A fresh key pair is made unless ``keypair`` is given; the service does not
    need to know it. The curve is the one the service's key lies on (secp256k1, or P-256 on a
    service whose ``EC_CURVE_NAME`` says so), unless ``curve`` names it.
    """

    def __init__(
        self,
        base_url: str,
        license_key: str,
        keypair: kosmos_crypto.KeyPair | None = None,
        *,
        curve: str | None = None,
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
        self._keypair = keypair
        self._curve = kosmos_crypto.curve_named(curve) if curve else None
        self._public_keys: dict[str, str] = {}
        self.app_id = app_id
        self.http = HttpSession(KosmosApiError, session, transport, timeout)
        self._keys: dict[str, tuple[str, bytes]] = {}
        """Service base URL -> its public key and the AES key shared with it."""

    # keys and headers -------------------------------------------------------------------------
    def _service_key(self, service_url: str) -> str:
        if service_url not in self._public_keys:
            self._public_keys[service_url] = self.public_key(service_url)
        return self._public_keys[service_url]

    @property
    def curve(self) -> str:
        """The curve of this client's keys: as given, else the one the events service's key lies on."""
        if self._curve is None:
            self._curve = kosmos_crypto.curve_of_public_key(self._service_key(self.base_url))
        return self._curve

    @property
    def keypair(self) -> kosmos_crypto.KeyPair:
        """The client's key pair (made on the service's curve at first use, unless given)."""
        if self._keypair is None:
            self._keypair = kosmos_crypto.generate_keypair(self.curve)
        return self._keypair

    def _key_of(self, service_url: str) -> tuple[str, bytes]:
        if service_url not in self._keys:
            public = self._service_key(service_url)
            self._keys[service_url] = public, kosmos_crypto.shared_key(self.keypair.private_key, public, self.curve)
        return self._keys[service_url]

    @property
    def service_public_key(self) -> str:
        """The events service's public key (fetched once from its ``/publickeys``)."""
        return self._key_of(self.base_url)[0]

    @property
    def shared_key(self) -> bytes:
        """The AES key this client shares with the events service."""
        return self._key_of(self.base_url)[1]

    def shared_key_with(self, service_url: str) -> bytes:
        """The AES key this client shares with the service at ``service_url`` (its own key pair)."""
        return self._key_of(service_url.rstrip("/"))[1]

    def forget_service_key(self) -> None:
        """Fetch the services' keys again on the next call (after a service key reset)."""
        self._keys.clear()
        self._public_keys.clear()

    def encrypt(self, value: Any, service_url: str | None = None) -> str:
        """Encrypt a string as is, anything else as JSON, with the key shared with a service (the events one)."""
        text = value if isinstance(value, str) else json.dumps(value)
        return kosmos_crypto.encrypt(text, self.shared_key_with(service_url or self.base_url))

    def decrypt(self, token: str, service_url: str | None = None) -> str:
        """Decrypt a token sealed with the key shared with a service (the events one)."""
        return kosmos_crypto.decrypt_text(token, self.shared_key_with(service_url or self.base_url))

    def request_id(self, ts: float | None = None) -> dict[str, Any]:
        """A fresh request id: now, a new uuid, this client's app id."""
        return {"ts": int(time.time() if ts is None else ts), "uuid": str(uuid.uuid4()), "appid": self.app_id}

    def auth_headers(self, request_id: dict[str, Any] | None = None, service_url: str | None = None) -> dict[str, str]:
        """The three headers of an authenticated call to a service (the events one); a new request id each time."""
        return {
            "publickey": self.keypair.public_key,
            "licensekey": self.encrypt(self.license_key, service_url),
            "requestid": self.encrypt(json.dumps(request_id or self.request_id()), service_url),
        }

    # transport --------------------------------------------------------------------------------
    def _call(self, method: str, url: str, *, auth: bool = False, service_url: str | None = None, **kwargs: Any) -> Any:
        auth_headers = self.auth_headers(service_url=service_url) if auth else {}
        headers = {**auth_headers, **kwargs.pop("headers", {})}
        response = self.http.request(method, url, headers=headers, **kwargs)
        if not response.content:
            return None
        try:
            body = response.json()
        except ValueError as exc:
            raise UnexpectedResponse(
                f"{method} {url} answered {response.status_code} with a body that is not JSON"
            ) from exc
        return self._open(body, service_url) if auth else body

    def _open(self, body: Any, service_url: str | None) -> Any:
        """Decrypt a ``{"data": "<ciphertext>"}`` response; anything else is returned as is."""
        if isinstance(body, dict) and set(body) == {"data"} and isinstance(body["data"], str):
            try:
                return json.loads(self.decrypt(body["data"], service_url))
            except (CryptoError, ValueError):
                return body
        return body

    # endpoints --------------------------------------------------------------------------------
    def healthz(self, synthetic_heartbeat: str | None = None) -> dict[str, Any]:
        """``GET /healthz``."""
        headers = {"synthetic-heartbeat": synthetic_heartbeat} if synthetic_heartbeat else {}
        return self._call("GET", f"{self.base_url}/healthz", headers=headers)  # type: ignore[no-any-return]

    def public_key(self, service_url: str | None = None) -> str:
        """``GET /publickeys`` of a service (the events one): its public key."""
        url = f"{(service_url or self.base_url).rstrip('/')}/publickeys"
        body = self._call("GET", url)
        if not isinstance(body, dict) or not isinstance(body.get("publicKey"), str):
            raise UnexpectedResponse(f"GET {url} answered {str(body)[:100]!r}, not a publicKey")
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
        return self._call("POST", url, auth=True, service_url=self.reports_url, json=body)  # type: ignore[no-any-return]

    def metrics(
        self, tenant_id: str, community_id: str, metrics_name: str, *, start: str | None = None, end: str | None = None
    ) -> int:
        """``POST /reports/tenant/{t}/community/{c}/metrics``: how many events ``metrics_name`` counts."""
        body: dict[str, Any] = {"metricsName": metrics_name}
        if start:
            body["from"] = start
        if end:
            body["to"] = end
        url = f"{self.reports_url}/tenant/{_segment(tenant_id)}/community/{_segment(community_id)}/metrics"
        answer = self._call("POST", url, auth=True, service_url=self.reports_url, json=body)
        if not isinstance(answer, dict) or type(answer.get("count")) is not int:
            raise UnexpectedResponse(f"POST {url} answered {str(answer)[:100]!r}, not a count")
        return int(answer["count"])

    def close(self) -> None:
        """Close the HTTP session."""
        self.http.close()

    def __enter__(self) -> KosmosClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
