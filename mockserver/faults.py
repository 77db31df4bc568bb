"""Deliberate defects the mock can be told to have, to prove that a conformance kit notices them.

Off unless named in the ``FAULTS`` setting (``EVENTDOUBLE_FAULTS='["accept_replays"]'``). Each is
one small condition at the place the real rule is enforced.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app

__all__ = ["FAULTS", "fault", "validate_faults"]

FAULTS = {
    "skip_license_check": "1Kosmos: any license key is accepted, unknown or disabled",
    "accept_stale_request_ids": "1Kosmos: request ids of any age are accepted",
    "accept_replays": "1Kosmos: a request id may be used again",
    "ignore_tenant": "1Kosmos: a tenant or community license may act on any tenant",
    "accept_event_without_type": "1Kosmos: an event without 'type' is stored",
    "server_error_on_malformed_header": "1Kosmos: a header that is not base64 gets a 500",
    "accept_alg_none": "10Duke: an unsigned JWS (alg none) is accepted on /put",
    "verify_hs256": "10Duke: HS256 keyed with a registered public key PEM is accepted",
    "accept_any_rsa_key": "10Duke: a JWS no registered key verifies is accepted anyway",
    "put_returns_body": "10Duke: /put answers 200 with a JSON body instead of an empty one",
    "drop_newer_instruction": "10Duke: feed pages lack the 'newer' instruction",
    "paging_repeats_event": "10Duke: the 'after' bound is inclusive, so paging repeats an event",
    "accept_expired_tokens": "10Duke: expired bearer tokens are accepted",
    "ignore_feed_claim": "10Duke: a bearer token for one feed reads any feed",
}


def validate_faults(names: Iterable[str]) -> None:
    """Refuse to start with a fault name that does not exist."""
    unknown = sorted(set(names) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown FAULTS {unknown}; known: {', '.join(sorted(FAULTS))}")


def fault(name: str) -> bool:
    """Whether the current app was told to have fault ``name``."""
    assert name in FAULTS, name
    return name in current_app.config["FAULTS"]
