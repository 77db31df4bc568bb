"""What the vendor's 1Kosmos helpers ask before any call: the service directory, the tenant look-up. No Flask."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from mockserver.errors import NotFound
from mockserver.kosmos.store import License

__all__ = ["DEFAULT_TENANT", "LOGO", "community_info", "service_directory"]

VENDOR_SERVICE_PATHS = {
    "sessions": "/sessions",
    "licenses": "/licenses",
    "global_caas": "/caas",
    "adminconsole": "",
    "authn": "/authn",
    "authz": "/authz",
    "acr": "/acr",
    "webauthn": "/webauthn",
    "docuverify": "/docuverify",
    "vcs": "/vcs",
    "user_management": "/users-mgmt",
    "oauth2": "/oauth2",
    "rules_engine": "/rules-engine",
    "otp": "/otp",
    "events": "/events",
    "reports": "/reports",
}
"""Every service the vendor's helpers and Postman collection read from ``/caas/sd``, at the vendor's paths.
The mock serves ``events`` and ``reports``; the others are listed so that a client finds what it
requires (the Node helper drops a directory without ``licenses``), and answer 404."""

DEFAULT_TENANT = "default"
"""The tenant and community a host name or name names when no license settles it (a choice of the mock)."""

LOGO = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
"""A 1x1 PNG: the vendor's Postman collection fails a community without a logo."""


def service_directory(root: str, admin: bool) -> dict[str, str]:
    """Service name to base URL for a mock reached at ``root`` (scheme and host, no trailing slash)."""
    services = {name: f"{root}{path}" for name, path in VENDOR_SERVICE_PATHS.items()}
    services["tenduke"] = root
    if admin:
        services["admin"] = f"{root}/__admin"
    return services


def _tenants(licenses: Iterable[License]) -> dict[str, set[str]]:
    """The tenants the licenses name, each with the communities they name."""
    tenants: dict[str, set[str]] = {}
    for record in licenses:
        if record.tenant_id:
            communities = tenants.setdefault(record.tenant_id, set())
            if record.community_id:
                communities.add(record.community_id)
    return tenants


def _host_of(dns: str) -> str:
    """The host name of a ``dns`` value, without a port (``[::1]:8443`` is ``::1``)."""
    dns = dns.strip().lower()
    if dns.startswith("["):
        return dns[1:].split("]", 1)[0]
    return dns.rsplit(":", 1)[0] if dns.count(":") == 1 else dns


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _tenant_of(lookup: dict[str, Any], tenants: dict[str, set[str]]) -> str:
    default = next(iter(tenants)) if len(tenants) == 1 else DEFAULT_TENANT
    if "tenantId" in lookup:
        tenant = str(lookup["tenantId"])
        if tenant not in tenants and tenant != default:
            raise NotFound(f"tenantId: no tenant {tenant!r} (the mock's tenants are those its licenses name)")
        return tenant
    host = _host_of(str(lookup["dns"]))
    label = host.split(".", 1)[0]
    if not _is_address(host) and label in tenants:
        return label
    return default


def community_info(lookup: dict[str, Any], licenses: Iterable[License], public_key: str) -> dict[str, Any]:
    """The ``{tenant, community}`` a community look-up names, as the vendor's service answers it.

    Raises :class:`NotFound` for a tenant or community the mock does not know.
    """
    tenants = _tenants(licenses)
    tenant = _tenant_of(lookup, tenants)
    community = str(lookup.get("communityId", lookup.get("communityName", DEFAULT_TENANT)))
    if community != DEFAULT_TENANT and community not in tenants.get(tenant, set()):
        which = "communityId" if "communityId" in lookup else "communityName"
        raise NotFound(f"{which}: tenant {tenant!r} has no community {community!r}")
    answer: dict[str, Any] = {
        "tenant": {"id": tenant, "tenanttag": tenant, "name": tenant, "tenanttype": "master"},
        "community": {"id": community, "tenantid": tenant, "name": community, "publicKey": public_key},
        "message": None,
    }
    if "dns" in lookup:
        answer["tenant"]["otherDNS"] = [str(lookup["dns"])]
    if not lookup.get("skipLogos"):
        answer["community"]["logo"] = LOGO
    return answer
