"""A 1Kosmos caller made from the kit's own wire code (:mod:`conformance.wire`), for the checks."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from conformance import wire
from conformance.core import CheckFailed, Context, KosmosTarget, SkipCheck

__all__ = [
    "FROM_REFUSED",
    "Caller",
    "event_name",
    "kosmos",
    "query_time",
    "service_curve",
    "service_public_key",
    "stored",
]

SERVICE_KEY = "kosmos-service-public-key"
FROM_REFUSED = ("from", "Field should be from current time to minus 90 days")
"""The reports service's refusal of a ``from`` over 90 days old or in the future, in the vendor's words."""


def kosmos(ctx: Context) -> KosmosTarget:
    """The 1Kosmos credentials, or skip."""
    if ctx.target.kosmos is None:
        raise SkipCheck("no 1Kosmos credentials given (the `kosmos` section of the credentials file)")
    return ctx.target.kosmos


def service_public_key(ctx: Context, fresh: bool = False, service: str = "events") -> str:
    """A service's public key from its ``/publickeys`` (fetched once per run unless ``fresh``).

    Each 1Kosmos service (``events``, ``reports``) has its own key pair: a caller encrypts to the
    key of the service it calls, as the vendor's clients do.
    """
    slot = f"{SERVICE_KEY}:{service}"
    if fresh or slot not in ctx.cache:
        response = ctx.http.get(ctx.url(f"/{service}/publickeys"))
        if response.status_code != 200:
            raise CheckFailed(f"GET /{service}/publickeys answered {response.status_code}", response)
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
        if not isinstance(body, dict) or not isinstance(body.get("publicKey"), str):
            raise CheckFailed(f"GET /{service}/publickeys did not answer {{publicKey}}", response)
        ctx.cache[slot] = body["publicKey"]
    return str(ctx.cache[slot])


def service_curve(ctx: Context) -> str:
    """The curve of the service's keys: the one the events service's public key lies on (secp256k1 or P-256).

    The vendor's helpers take it from the service's ``EC_CURVE_NAME``; the key itself tells it
    without a license. A key on neither curve fails the check that asks.
    """
    curve = wire.curve_of(service_public_key(ctx))
    if curve is None:
        raise CheckFailed("GET /events/publickeys is a point on neither secp256k1 nor P-256 (base64 X||Y)")
    return curve


def query_time(epoch: float) -> str:
    """``YYYY-MM-DD HH:MM:SS.SSS`` in UTC: a ``from``/``to`` of the reports service."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def event_name(ctx: Context, what: str) -> str:
    """An event name unique to this run and check."""
    return f"E_CONFORMANCE_{what.upper()}_{ctx.run_id}"


class Caller:
    """A caller with a fresh key pair on the service's curve, encrypting to a service's key for ``license_key``.

    ``key`` is the key shared with the events service; :meth:`key_of` gives any service's.
    """

    def __init__(self, ctx: Context, license_key: str, app_id: str = "eventdouble-conformance") -> None:
        self.ctx, self.license_key, self.app_id = ctx, license_key, app_id
        self.curve = service_curve(ctx)
        self.private = ec.generate_private_key(wire.CURVES[self.curve])
        self.public_key = wire.encode_public(self.private.public_key())
        scalar = self.private.private_numbers().private_value.to_bytes(32, "big")
        self.private_key = base64.b64encode(scalar).decode()
        self._keys: dict[str, bytes] = {}
        self.key_of("events")

    @property
    def key(self) -> bytes:
        """The AES key shared with the events service; a check may replace it to send a wrong one."""
        return self._keys["events"]

    @key.setter
    def key(self, value: bytes) -> None:
        self._keys["events"] = value

    def key_of(self, service: str) -> bytes:
        """The AES key this caller shares with ``service`` (its own key pair, from its ``/publickeys``)."""
        if service not in self._keys:
            public = service_public_key(self.ctx, service=service)
            try:
                self._keys[service] = wire.ecdh_key(self.private_key, public, self.curve)
            except ValueError as exc:  # not base64, or no point on the curve of the events key
                raise CheckFailed(f"GET /{service}/publickeys is not a {self.curve} public key: {exc}") from exc
        return self._keys[service]

    def seal(self, value: Any, iv: bytes | None = None, service: str = "events") -> str:
        """Encrypt a string as is, anything else as JSON, to ``service``."""
        text = value if isinstance(value, str) else json.dumps(value)
        return wire.seal(text.encode("utf-8"), self.key_of(service), iv)

    def request_id(self, ts: float | None = None) -> dict[str, Any]:
        """A fresh request id: now (or ``ts``), a new uuid4, this caller's app id."""
        return {"ts": int(time.time()) if ts is None else ts, "uuid": str(uuid.uuid4()), "appid": self.app_id}

    def headers(
        self, request_id: Any = None, license_key: str | None = None, service: str = "events"
    ) -> dict[str, str]:
        """The three headers for a call to ``service``; ``request_id`` may be a dict (sent as JSON) or raw text."""
        rid = self.request_id() if request_id is None else request_id
        return {
            "publickey": self.public_key,
            "licensekey": self.seal(self.license_key if license_key is None else license_key, service=service),
            "requestid": self.seal(rid if isinstance(rid, str) else json.dumps(rid), service=service),
        }

    def put(
        self,
        name: str,
        event: Any,
        *,
        tenant: str | None = None,
        community: str | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> httpx.Response:
        """PUT ``event`` (encrypted) as ``name``; ``data`` replaces the encrypted body as is."""
        target = kosmos(self.ctx)
        path = f"/events/tenant/{tenant or target.tenant}/community/{community or target.community}/event/{name}"
        body = {"data": self.seal(event) if data is None else data}
        return self.ctx.http.put(self.ctx.url(path), headers=headers or self.headers(), json=body)

    def query(
        self,
        tenant: str | None = None,
        community: str | None = None,
        headers: dict[str, str] | None = None,
        **body: Any,
    ) -> httpx.Response:
        """POST an event query (a plain JSON body) to the reports service, with headers encrypted to its key."""
        return self.report("events", tenant, community, headers, **body)

    def report(
        self,
        what: str,
        tenant: str | None = None,
        community: str | None = None,
        headers: dict[str, str] | None = None,
        **body: Any,
    ) -> httpx.Response:
        """POST ``/reports/tenant/{t}/community/{c}/{what}`` (``events``, ``metrics``) with a plain JSON body."""
        target = kosmos(self.ctx)
        path = f"/reports/tenant/{tenant or target.tenant}/community/{community or target.community}/{what}"
        return self.ctx.http.post(self.ctx.url(path), headers=headers or self.headers(service="reports"), json=body)


def stored(
    ctx: Context, name: str, *, tenant: str | None = None, community: str | None = None, license_key: str | None = None
) -> list[dict[str, Any]]:
    """The events stored under ``name``, as the query endpoint reports them (1000 at most)."""
    reader = Caller(ctx, license_key or kosmos(ctx).writer() or "")
    response = reader.query(tenant, community, pSize=1000, query={"event_name": name})
    if response.status_code != 200:
        raise CheckFailed(f"reading events back through the query endpoint got {response.status_code}", response)
    data = response.json().get("data")
    if not isinstance(data, list):
        raise CheckFailed("the query answer has no `data` list", response)
    return data
