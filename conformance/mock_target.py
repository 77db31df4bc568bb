"""Provision every credential the kit can use on an eventdouble mock, through its admin API."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conformance.core import ConformanceError, KosmosTarget, Target, TenDukeTarget

__all__ = ["provision"]

TENANT, COMMUNITY, OTHER_COMMUNITY, OTHER_TENANT = "conformance", "main", "second", "conformance-other"


def _iso(epoch: float, plus_two_hours: bool = False) -> str:
    zone = timezone(timedelta(hours=2)) if plus_two_hours else UTC
    return datetime.fromtimestamp(epoch, zone).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pems(key: Any) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _rsa(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


class _Admin:
    def __init__(self, base_url: str, http: httpx.Client, token: str | None = None) -> None:
        self.base_url, self.http = base_url.rstrip("/"), http
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.http.post(f"{self.base_url}/__admin{path}", json=body, headers=self.headers)
        except httpx.TransportError as exc:
            raise ConformanceError(f"cannot reach the mock's admin API at {self.base_url}: {exc}") from exc
        if response.status_code != 201:
            raise ConformanceError(f"the mock's admin API refused {path}: {response.status_code} {response.text[:200]}")
        result: dict[str, Any] = response.json()
        return result

    def license(self, auth_level: str, **fields: Any) -> str:
        return str(self.license_record(auth_level, **fields)["licenseKey"])

    def license_record(self, auth_level: str, **fields: Any) -> dict[str, Any]:
        body = {"authLevel": auth_level, "tag": "eventdouble conformance", **fields}
        return self.post("/licenses", body)

    def change(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        """PATCH or DELETE an admin record; a refusal is a configuration error."""
        headers = {**self.headers, "Content-Type": "application/json"}
        try:
            response = self.http.request(method, f"{self.base_url}/__admin{path}", json=body, headers=headers)
        except httpx.TransportError as exc:
            raise ConformanceError(f"cannot reach the mock's admin API at {self.base_url}: {exc}") from exc
        if response.status_code not in (200, 204):
            raise ConformanceError(f"the mock's admin API refused {method} {path}: {response.status_code}")

    def client(self, key: Any, name: str, allow_unusable: bool = False) -> str:
        private, public = _pems(key)
        self.post("/tenduke/clients", {"publicKeyPem": public, "name": name, "allowUnusable": allow_unusable})
        return private


@dataclass(frozen=True)
class FreshCredentials:
    """Credentials a check makes for itself on the mock, through its admin API (each call its own client).

    A plain record, so a target holding its methods can be handed to another process.
    """

    base_url: str
    admin_token: str | None
    scope: dict[str, str]

    def _admin(self, http: httpx.Client) -> _Admin:
        return _Admin(self.base_url, http, self.admin_token)

    def expiring_license(self, seconds: float) -> tuple[str, float]:
        """A community license of the kit's scope expiring ``seconds`` from now, and that expiry."""
        expiry = round(time.time() + seconds, 3)  # milliseconds, as a credentials file holds it
        with httpx.Client(timeout=30) as http:
            # written with a +02:00 offset: the server must honour it, not read the clock time as UTC
            key = self._admin(http).license("community", expiry=_iso(expiry, plus_two_hours=True), **self.scope)
        return key, expiry

    def revocable_license(self) -> tuple[str, Callable[[], None]]:
        """A fresh community license and a function that disables it."""
        with httpx.Client(timeout=30) as http:
            record = self._admin(http).license_record("community", **self.scope)

        def disable() -> None:
            with httpx.Client(timeout=30) as http:
                self._admin(http).change("PATCH", f"/licenses/{record['keyId']}", {"disabled": True})

        return str(record["licenseKey"]), disable

    def revocable_client_key(self) -> tuple[str, Callable[[], None]]:
        """A freshly registered 10Duke client key (its private PEM) and a function that deletes it."""
        private, public = _pems(_rsa(2048))
        with httpx.Client(timeout=30) as http:
            record = self._admin(http).post("/tenduke/clients", {"publicKeyPem": public, "name": "revocable"})

        def delete() -> None:
            with httpx.Client(timeout=30) as http:
                self._admin(http).change("DELETE", f"/tenduke/clients/{record['clientId']}")

        return private, delete


def provision(
    base_url: str,
    http: httpx.Client | None = None,
    *,
    expiring_in: float | None = None,
    admin_token: str | None = None,
    tenant: str = TENANT,
    community: str = COMMUNITY,
) -> Target:
    """Create licenses of every role and 10Duke client keys on the mock at ``base_url``.

    ``admin_token`` is the mock's admin token, if it has one (``eventdouble serve`` prints it).
    The 1Kosmos checks write to ``tenant``/``community``; the isolation checks also use
    ``<tenant>-other`` and another community of ``tenant``.

    The target's ``expiring_license`` makes a license expiring a few seconds ahead when the
    check needs it; ``expiring_in`` also writes one into the credentials (for a file used later).
    """
    own = http is None
    http = http or httpx.Client(timeout=30)
    try:
        admin = _Admin(base_url, http, admin_token)
        other_tenant = f"{tenant}-other"
        other_community = OTHER_COMMUNITY if community != OTHER_COMMUNITY else f"{OTHER_COMMUNITY}-2"
        scoped = {"tenantId": tenant, "communityId": community}
        licenses = {
            "system": admin.license("system"),
            "service": admin.license("service"),
            "tenant": admin.license("tenant", tenantId=tenant),
            "community": admin.license("community", **scoped),
            "disabled": admin.license("community", disabled=True, **scoped),
            "expired": admin.license("community", expiry=_iso(time.time() - 3600), **scoped),
            "other_tenant": admin.license("tenant", tenantId=other_tenant),
        }

        fresh = FreshCredentials(base_url, admin_token, scoped)
        kosmos = KosmosTarget(
            tenant,
            community,
            licenses,
            other_tenant=other_tenant,
            other_community=other_community,
            expiring=fresh.expiring_license(expiring_in) if expiring_in else None,
        )
        tenduke = TenDukeTarget(
            private_key_pem=admin.client(_rsa(2048), "conformance"),
            second_private_key_pem=admin.client(_rsa(3072), "second"),  # the minimum is not an exact size
            weak_private_key_pem=admin.client(_rsa(2047), "weak", allow_unusable=True),  # one bit short
            ec_private_key_pem=admin.client(ec.generate_private_key(ec.SECP256R1()), "ec", allow_unusable=True),
        )
    finally:
        if own:
            http.close()
    return Target(
        base_url,
        kosmos,
        tenduke,
        allow_destructive=True,
        expiring_license=fresh.expiring_license,
        revocable_license=fresh.revocable_license,
        revocable_client_key=fresh.revocable_client_key,
    )
