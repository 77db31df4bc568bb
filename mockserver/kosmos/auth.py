"""Check the three 1Kosmos headers: decrypt them, then judge the request id and the license."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eventclient import kosmos_crypto, strict_json
from eventclient.exceptions import CryptoError
from mockserver.db import Write, compact_json
from mockserver.kosmos.errors import (
    HeaderNotDecryptable,
    InvalidPublicKey,
    LicenseInvalid,
    MalformedRequestId,
    ReplayedRequestId,
    StaleRequestId,
)
from mockserver.kosmos.store import KosmosStore, License

__all__ = [
    "Caller",
    "RequestTicket",
    "cached_shared_key",
    "canonical_uuid",
    "commit_request",
    "echo_text",
    "parse_request_id",
    "replay_refusal",
    "valid_license",
    "verify_caller",
]

SHARED_KEY_CACHE_SIZE = 4096
"""Caller public keys whose ECDH key is kept (about 300 bytes each); the least recently used go first."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the key its messages use, its license and its request id."""

    shared_key: bytes
    license: License
    request_id: dict[str, Any]
    request_id_text: str
    """The request id as echoed: :func:`echo_text`."""
    ticket: RequestTicket | None = None
    """What recording the request id takes, once the answer is ready; None without replay protection."""


@dataclass(frozen=True)
class RequestTicket:
    """A request id checked as not seen, to be recorded with the request's writes (one transaction)."""

    request_uuid: str
    expires: float
    keep_after: float


@functools.lru_cache(maxsize=SHARED_KEY_CACHE_SIZE)
def cached_shared_key(service_private_key: str, caller_public_key: str, curve: str = kosmos_crypto.CURVE_NAME) -> bytes:
    """:func:`kosmos_crypto.shared_key`, remembered per key pair; a service key reset changes the key.

    Deriving costs two scalar multiplications (about 2 ms); callers reuse one key pair for many
    requests. Failures are not cached, so a bad key is refused the same way every time.
    """
    return kosmos_crypto.shared_key(service_private_key, caller_public_key, curve)


def _decrypt_header(value: str, key: bytes, name: str) -> str:
    try:
        return kosmos_crypto.decrypt_text(value, key)
    except CryptoError as exc:
        raise HeaderNotDecryptable(name) from exc


def parse_request_id(text: str, now: float, window: float) -> dict[str, Any]:
    """Parse a decrypted request id and check that ``ts`` is within ``window`` seconds of ``now``."""
    try:
        value = strict_json.loads(text)
    except strict_json.JsonRefused as exc:
        raise MalformedRequestId(f"requestid: not a JSON object ({exc})") from exc
    if not isinstance(value, dict):
        raise MalformedRequestId("requestid: not a JSON object")
    ts = value.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or ts != ts or abs(ts) == float("inf"):
        raise MalformedRequestId("requestid: 'ts' must be a number (epoch seconds)")
    request_uuid = value.get("uuid")
    try:
        uuid.UUID(str(request_uuid))
    except ValueError as exc:
        raise MalformedRequestId("requestid: 'uuid' must be a UUID string") from exc
    if not isinstance(request_uuid, str):
        raise MalformedRequestId("requestid: 'uuid' must be a UUID string")
    appid = value.get("appid", value.get("appId"))
    if not isinstance(appid, str):
        raise MalformedRequestId("requestid: 'appid' must be a string")
    if ts < now - window:
        raise StaleRequestId(f"requestid: ts {ts} is more than {window:g} s old")
    if ts > now + window:
        raise StaleRequestId(f"requestid: ts {ts} is more than {window:g} s in the future")
    return value


def canonical_uuid(text: str) -> str:
    """The one spelling of a UUID (lower case, hyphens): upper case, no hyphens, braces and ``urn:uuid:`` are one id."""
    return str(uuid.UUID(text))


def echo_text(request_id: dict[str, Any]) -> str:
    """The request id as it is echoed in the ``requestid`` response header: compact ASCII JSON.

    Whatever the caller sent (pretty-printed JSON, CR or LF, raw UTF-8, lone surrogates), this is
    always a valid header value, so the answer can be sent once the request is committed.
    """
    return compact_json(request_id)  # ASCII: non-ASCII characters and lone surrogates become \u escapes


def valid_license(store: KosmosStore, license_key: str, now: float, seen: dict[str, str] | None = None) -> License:
    """The license with this key, if it exists and is neither disabled nor expired at ``now``.

    ``seen`` gets the license's key id (for the journal), even when the license is refused.
    """
    record = store.license_by_key(license_key)
    if record is None:
        raise LicenseInvalid("unknown license key")
    if seen is not None:
        seen["license_key_id"] = record.key_id
    why = record.refusal(now)
    if why:
        raise LicenseInvalid(why)
    return record


def verify_caller(
    headers: Mapping[str, str],
    store: KosmosStore,
    *,
    now: float,
    window: float,
    replay_protection: bool = True,
    replay_memory: float = 0,
    seen: dict[str, str] | None = None,
    service: str = "events",
) -> Caller:
    """Authenticate a request to ``service`` from its ``publickey``, ``licensekey`` and ``requestid`` headers.

    The two encrypted headers must be encrypted to ``service``'s own key.
    The spec validator has already checked that the three are present and non-empty, and the
    app that no header is over the size limit. ``seen`` gets what was learnt on the way, for the
    journal: the request id as echoed and the license's key id, also when the request is refused.
    Whether the request id was used before is not asked here: :func:`commit_request` finds out
    when it records it, and :func:`replay_refusal` for a request refused before that.
    """
    public_text = headers.get("publickey", "").strip()
    try:
        key = cached_shared_key(store.primary_key(service).private_key, public_text, store.curve)
    except CryptoError as exc:
        raise InvalidPublicKey(f"publickey: {exc}") from exc
    license_key = _decrypt_header(headers.get("licensekey", "").strip(), key, "licensekey")
    text = _decrypt_header(headers.get("requestid", "").strip(), key, "requestid")
    try:
        request_id = parse_request_id(text, now, window)
    except StaleRequestId:
        if seen is not None:
            seen["request_id"] = text[:500]
        raise
    echoed = echo_text(request_id)
    if seen is not None:
        seen["request_id"] = echoed
    record = valid_license(store, license_key, now, seen)
    ticket = None
    if replay_protection:
        ticket = RequestTicket(canonical_uuid(request_id["uuid"]), float(request_id["ts"]) + window, replay_memory)
    return Caller(key, record, request_id, echoed, ticket)


def replay_refusal(store: KosmosStore, caller: Caller) -> ReplayedRequestId | None:
    """The refusal of the caller's request as a replay, if its request id is recorded; else None.

    Whether a request is a replay is known for certain when its request id is recorded
    (:func:`commit_request`); a request refused before that asks here, since a replay's
    refusal comes before any other found after the license (the documented precedence).
    """
    ticket = caller.ticket
    if ticket is None or not store.request_id_seen(ticket.request_uuid, ticket.keep_after):
        return None
    return ReplayedRequestId(f"requestid: uuid {caller.request_id['uuid']} was already used")


def commit_request(store: KosmosStore, caller: Caller, write: Write | None = None) -> None:
    """Record the caller's request id and run ``write``, in one transaction.

    A request id already recorded (and not yet forgotten) is a replay: refused, and nothing is written.
    """
    ticket = caller.ticket
    if ticket is None:
        if write is not None:
            with store.db.transaction() as tx:
                write(tx)
        return
    if not store.remember_request_id(ticket.request_uuid, ticket.expires, ticket.keep_after, write):
        raise ReplayedRequestId(f"requestid: uuid {caller.request_id['uuid']} was already used")
