"""HTTP layer of the 1Kosmos mock: parse, call the store, serialize. Routes come from the spec."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from eventclient import kosmos_crypto
from eventclient.exceptions import CryptoError
from mockserver.backend import current_backend
from mockserver.db import Write
from mockserver.kosmos.auth import Caller, commit_request, valid_license, verify_caller
from mockserver.kosmos.errors import KosmosError, LicenseForbidden, ServiceKeyNotFound
from mockserver.kosmos.events import build_event, check_query_bounds, open_event_data, parse_event_time
from mockserver.limits import check_rate
from mockserver.routing import current_operation, spec_blueprint, validated

__all__ = ["BUILD_TIME", "HANDLERS", "create_blueprint"]

BUILD_TIME = 1763856000  # epoch seconds of this build; the "dob" part of healthz's version


def _authenticate(tenant_id: str | None = None, community_id: str | None = None) -> Caller:
    """Verify the three headers, then the license's right to this operation."""
    backend = current_backend()
    g.kosmos_seen = {}
    caller = verify_caller(
        request.headers,
        backend.kosmos,
        now=backend.clock(),
        window=float(current_app.config["ALLOWED_TIME_SPAN"]),
        replay_protection=bool(current_app.config["REPLAY_PROTECTION"]),
        replay_memory=float(current_app.config["REPLAY_MEMORY"]),
        seen=g.kosmos_seen,
    )
    check_rate(f"kosmos:{caller.license.key_id}", "license")
    _, op = current_operation()
    level = op.extension("x-required-auth-level", "community")
    why = caller.license.allows(level, tenant_id, community_id)
    if why:
        raise LicenseForbidden(why)
    return caller


def _answer(caller: Caller, body: Any = None, status: int = 200, write: Write | None = None) -> Response:
    """The answer to an authenticated request; then its request id and ``write`` are committed together.

    The answer is built first: nothing is stored unless it can be sent.
    """
    response = jsonify(body) if body is not None else Response(status=status)
    response.status_code = status
    response.headers["requestid"] = caller.request_id_text
    commit_request(current_backend().kosmos, caller, write)
    return response


def _check_plain_license() -> None:
    """A plain ``licensekey`` header is optional on healthz and environment, but must be valid."""
    license_key = validated().header.get("licensekey")
    if license_key is None:
        return
    backend = current_backend()
    g.kosmos_seen = {}
    record = valid_license(backend.kosmos, license_key.strip(), backend.clock(), g.kosmos_seen)
    check_rate(f"kosmos:{record.key_id}", "license")


def get_healthz() -> Response:
    _check_plain_license()
    body = {
        "status": "all services operational",
        "publicKey": current_backend().kosmos.primary_key().public_key,
        "code": "200",
        "version": f"{current_app.config['VERSION']}.{current_app.config['COMMIT']}.{BUILD_TIME}",
    }
    if "synthetic-heartbeat" in validated().header:
        body["syntheticheartbeatId"] = str(uuid.uuid4())
    return jsonify(body)


def get_public_keys() -> Response:
    return jsonify({"publicKey": current_backend().kosmos.primary_key().public_key})


def get_service_keys() -> Response:
    caller = _authenticate()
    return _answer(caller, [k.public_view() for k in current_backend().kosmos.service_keys()])


def reset_service_key(keyId: str) -> Response:  # noqa: N803 - the spec's parameter name
    caller = _authenticate()
    store = current_backend().kosmos
    key = store.new_service_key(keyId)

    def rotate(tx: sqlite3.Connection) -> None:
        if not store.replace_service_key(tx, key):
            raise ServiceKeyNotFound(f"no service key with keyId {keyId}")

    return _answer(caller, key.public_view(), write=rotate)


def ecdsa_helper(method: str) -> Response:
    body = validated().body
    try:
        key = kosmos_crypto.shared_key(body["privateKey"], body["publicKey"])
        if method == "encrypt":
            data = kosmos_crypto.encrypt(body["dataStr"], key)
        else:
            data = kosmos_crypto.decrypt_text(body["dataStr"], key)
    except CryptoError as exc:
        raise KosmosError(f"{method} failed: {exc}") from exc
    return jsonify({"data": data})


def get_environment() -> Response:
    _check_plain_license()
    return jsonify(
        {
            "EC_CURVE_NAME": kosmos_crypto.CURVE_NAME,
            "allowed_time_span": int(current_app.config["ALLOWED_TIME_SPAN"]),
            "replay_protection": bool(current_app.config["REPLAY_PROTECTION"]),
        }
    )


def get_service_directory() -> Response:
    root = request.host_url.rstrip("/")
    services = {
        "events": f"{root}/events",
        "reports": f"{root}/reports",
        "tenduke": root,
    }
    if current_app.config["ADMIN_ENABLED"]:
        services["licenses"] = f"{root}/__admin/licenses"
        services["admin"] = f"{root}/__admin"
    return jsonify(services)


def create_event(tenantId: str, communityId: str, eventName: str) -> Response:  # noqa: N803
    caller = _authenticate(tenantId, communityId)
    spec, _ = current_operation()
    data = open_event_data(validated().body["data"], caller.shared_key)
    spec.check("/components/schemas/EventData", data, "data")
    backend = current_backend()
    event = build_event(
        data,
        tenant_id=tenantId,
        community_id=communityId,
        event_name=eventName,
        request_id=caller.request_id,
        now=backend.clock(),
    )
    return _answer(caller, write=lambda tx: backend.kosmos.write_event(tx, event))


def query_events(tenantId: str, communityId: str) -> Response:  # noqa: N803
    caller = _authenticate(tenantId, communityId)
    query = validated().body
    bounds = {k: int(parse_event_time(query[k]) * 1000) for k in ("from", "to") if k in query}
    check_query_bounds(bounds, int(current_backend().clock() * 1000), int(current_app.config["QUERY_HISTORY_DAYS"]))
    page_size, page_index = query.get("pSize", 25), query.get("pIndex", 0)
    page = current_backend().kosmos.query_events(
        tenantId,
        communityId,
        page_size=page_size,
        page_index=page_index,
        start_ms=bounds.get("from"),
        end_ms=bounds.get("to"),
        event_name=query.get("query", {}).get("event_name"),
    )
    return _answer(
        caller, {"page": {"total": page.total, "pSize": page_size, "pIndex": page_index}, "data": page.events}
    )


HANDLERS = {
    "getHealthz": get_healthz,
    "getPublicKeys": get_public_keys,
    "getServiceKeys": get_service_keys,
    "resetServiceKey": reset_service_key,
    "ecdsaHelper": ecdsa_helper,
    "getEnvironment": get_environment,
    "getServiceDirectory": get_service_directory,
    "createEvent": create_event,
    "queryEvents": query_events,
}


def create_blueprint() -> Blueprint:
    """The 1Kosmos blueprint (``/events``, ``/reports``), routed and validated by its spec."""
    return spec_blueprint("kosmos", "kosmos-events", HANDLERS)
