"""HTTP layer of the admin API: provision licenses, inspect events and the journal, reset."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from mockserver.backend import current_backend
from mockserver.errors import ApiError, NotFound
from mockserver.routing import spec_blueprint, validated

__all__ = ["HANDLERS", "create_blueprint"]


def create_license() -> tuple[Response, int]:
    record = current_backend().kosmos.create_license(validated().body)
    if record is None:
        raise ApiError("a license with this licenseKey exists", 409)
    return jsonify(record.as_json()), 201


def list_licenses() -> Response:
    return jsonify([r.as_json() for r in current_backend().kosmos.licenses()])


def update_license(keyId: str) -> Response:  # noqa: N803 - the spec's parameter name
    record = current_backend().kosmos.update_license(keyId, validated().body)
    if record is None:
        raise NotFound(f"no license with keyId {keyId}")
    return jsonify(record.as_json())


def delete_license(keyId: str) -> Response:  # noqa: N803
    if not current_backend().kosmos.delete_license(keyId):
        raise NotFound(f"no license with keyId {keyId}")
    return Response(status=204)


def list_events() -> Response:
    query = validated().query
    events = current_backend().kosmos.events(
        tenant_id=query.get("tenantId"),
        community_id=query.get("communityId"),
        event_name=query.get("eventName"),
        limit=query.get("limit", 1000),
    )
    return jsonify(events)


def get_journal() -> Response:
    return jsonify(current_backend().journal.entries(validated().query.get("limit", 100)))


def reset_state() -> Response:
    current_backend().reset(everything=validated().query.get("all", False))
    return Response(status=204)


HANDLERS = {
    "createLicense": create_license,
    "listLicenses": list_licenses,
    "updateLicense": update_license,
    "deleteLicense": delete_license,
    "listEvents": list_events,
    "getJournal": get_journal,
    "resetState": reset_state,
}


def create_blueprint() -> Blueprint:
    """The admin blueprint, routed and validated by ``openapi/admin.yaml``."""
    return spec_blueprint("admin", "admin", HANDLERS)
