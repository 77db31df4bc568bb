"""HTTP layer of the admin API: provision licenses, inspect events and the journal, reset."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from eventclient.exceptions import CryptoError
from mockserver.backend import current_backend
from mockserver.errors import ApiError, NotFound, RequestValidationError
from mockserver.faults import FaultRuleInvalid
from mockserver.kosmos.store import LicenseFieldInvalid
from mockserver.routing import spec_blueprint, validated
from mockserver.stream import EventFilter, Position, head, sse_stream
from mockserver.tenduke.errors import ClientKeyRejected
from mockserver.webhooks import WebhookInvalid, start_delivering

__all__ = ["HANDLERS", "create_blueprint"]


def create_license() -> tuple[Response, int]:
    try:
        record = current_backend().kosmos.create_license(validated().body)
    except LicenseFieldInvalid as exc:
        raise RequestValidationError(f"body.{exc}") from exc
    if record is None:
        raise ApiError("a license with this licenseKey exists", 409)
    return jsonify(record.as_json()), 201


def list_licenses() -> Response:
    return jsonify([r.as_json() for r in current_backend().kosmos.licenses()])


def update_license(keyId: str) -> Response:  # noqa: N803 - the spec's parameter name
    try:
        record = current_backend().kosmos.update_license(keyId, validated().body)
    except LicenseFieldInvalid as exc:
        raise RequestValidationError(f"body.{exc}") from exc
    if record is None:
        raise NotFound(f"no license with keyId {keyId}")
    return jsonify(record.as_json())


def delete_license(keyId: str) -> Response:  # noqa: N803
    if not current_backend().kosmos.delete_license(keyId):
        raise NotFound(f"no license with keyId {keyId}")
    return Response(status=204)


def register_tenduke_client() -> tuple[Response, int]:
    body = validated().body
    try:
        record = current_backend().tenduke.register_client(
            body["publicKeyPem"], body.get("name"), allow_unusable=body.get("allowUnusable", False)
        )
    except CryptoError as exc:
        raise ClientKeyRejected(f"publicKeyPem: {exc}") from exc
    if record is None:
        raise ApiError("this public key is already registered", 409)
    return jsonify(record.as_json()), 201


def list_tenduke_clients() -> Response:
    return jsonify([c.as_json() for c in current_backend().tenduke.clients()])


def get_tenduke_client(clientId: str) -> Response:  # noqa: N803
    record = current_backend().tenduke.client(clientId)
    if record is None:
        raise NotFound(f"no client with clientId {clientId}")
    return jsonify(record.as_json())


def delete_tenduke_client(clientId: str) -> Response:  # noqa: N803
    if not current_backend().tenduke.delete_client(clientId):
        raise NotFound(f"no client with clientId {clientId}")
    return Response(status=204)


def list_events() -> Response:
    query = validated().query
    backend = current_backend()
    budget = int(current_app.config["MAX_PAGE_BYTES"])
    if query["api"] == "tenduke":
        events = backend.tenduke.events(
            source_id=query.get("eventSourceId"),
            event_type=query.get("eventType"),
            limit=query["limit"],
            max_bytes=budget,
        )
    else:
        events = backend.kosmos.events(
            tenant_id=query.get("tenantId"),
            community_id=query.get("communityId"),
            event_name=query.get("eventName"),
            limit=query["limit"],
            max_bytes=budget,
        )
    return jsonify(events)


def get_journal() -> Response:
    query = validated().query
    return jsonify(current_backend().journal.entries(query["limit"], api=query.get("api"), status=query.get("status")))


def create_fault_rule() -> tuple[Response, int]:
    try:
        rule = current_backend().faults.add(validated().body)
    except FaultRuleInvalid as exc:
        raise RequestValidationError(f"body.{exc}") from exc
    return jsonify(rule), 201


def list_fault_rules() -> Response:
    return jsonify(current_backend().faults.rules())


def delete_fault_rule(faultId: str) -> Response:  # noqa: N803
    if not current_backend().faults.remove(faultId):
        raise NotFound(f"no fault rule with id {faultId}")
    return Response(status=204)


def stream_events() -> Response:
    query = validated().query
    backend = current_backend()
    resumed = Position.parse(validated().header.get("Last-Event-ID"))
    start = resumed or (Position() if query["from"] == "start" else head(backend))
    body = sse_stream(backend, EventFilter.of(query), start, query.get("maxSeconds"))
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may hold events back
    return Response(body, mimetype="text/event-stream", headers=headers)


def register_webhook() -> tuple[Response, int]:
    backend = current_backend()
    start_delivering(backend)  # first: nothing that can fail comes after the receiver is stored
    try:
        view = backend.webhooks.register(validated().body, head(backend))
    except WebhookInvalid as exc:
        raise RequestValidationError(f"body.{exc}") from exc
    return jsonify(view), 201


def list_webhooks() -> Response:
    return jsonify(current_backend().webhooks.receivers_view())


def _webhook(webhook_id: str) -> dict[str, Any]:
    view = current_backend().webhooks.get(webhook_id)
    if view is None:
        raise NotFound(f"no webhook with id {webhook_id}")
    return view


def get_webhook(webhookId: str) -> Response:  # noqa: N803
    return jsonify(_webhook(webhookId))


def delete_webhook(webhookId: str) -> Response:  # noqa: N803
    if not current_backend().webhooks.remove(webhookId):
        raise NotFound(f"no webhook with id {webhookId}")
    return Response(status=204)


def list_webhook_deliveries(webhookId: str) -> Response:  # noqa: N803
    _webhook(webhookId)
    return jsonify(current_backend().webhooks.deliveries(webhookId, validated().query["limit"]))


def reset_state() -> Response:
    current_backend().reset(everything=validated().query["all"])
    return Response(status=204)


HANDLERS = {
    "createLicense": create_license,
    "listLicenses": list_licenses,
    "updateLicense": update_license,
    "deleteLicense": delete_license,
    "registerTendukeClient": register_tenduke_client,
    "listTendukeClients": list_tenduke_clients,
    "getTendukeClient": get_tenduke_client,
    "deleteTendukeClient": delete_tenduke_client,
    "listEvents": list_events,
    "getJournal": get_journal,
    "createFaultRule": create_fault_rule,
    "listFaultRules": list_fault_rules,
    "deleteFaultRule": delete_fault_rule,
    "streamEvents": stream_events,
    "registerWebhook": register_webhook,
    "listWebhooks": list_webhooks,
    "getWebhook": get_webhook,
    "deleteWebhook": delete_webhook,
    "listWebhookDeliveries": list_webhook_deliveries,
    "resetState": reset_state,
}


def create_blueprint() -> Blueprint:
    """The admin blueprint, routed and validated by ``openapi/admin.yaml``."""
    return spec_blueprint("admin", "admin", HANDLERS)
