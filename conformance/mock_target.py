"""Provision credentials on an in-process mock and describe it as a :class:`Target`."""

from __future__ import annotations

from conformance.core import KosmosTarget, Target, TenDukeTarget
from eventclient import jws
from mockserver import MockServer

__all__ = ["provision"]


def provision(server: MockServer) -> Target:
    """Create a community license, a disabled one and a 10Duke client key on ``server``."""
    license_key = server.create_license("community", tenantId="conformance", communityId="main")["licenseKey"]
    disabled = server.create_license("system", disabled=True, tag="conformance: disabled")["licenseKey"]
    pair = jws.generate_rsa_keypair(2048)
    server.register_tenduke_client(pair.public_pem, name="conformance")
    return Target(
        base_url=server.url,
        kosmos=KosmosTarget(license_key, "conformance", "main", scoped=True, disabled_license=disabled),
        tenduke=TenDukeTarget(pair.private_pem, "conformance-feed"),
    )
