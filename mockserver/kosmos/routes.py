"""HTTP layer of the 1Kosmos mock: parse, call the store, serialize; routed by the spec (mockserver/vendor.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response

from eventclient import kosmos_crypto
from eventclient.exceptions import CryptoError
from mockserver.db import Transaction, Write
from mockserver.errors import ApiError
from mockserver.kosmos import discovery
from mockserver.kosmos.auth import Caller, commit_request, replay_refusal, valid_license, verify_caller
from mockserver.kosmos.errors import (
    KosmosError,
    LicenseForbidden,
    QueryParamRefused,
    ReplayedRequestId,
    ServiceKeyNotFound,
)
from mockserver.kosmos.events import build_event, open_event_data, parse_event_time, query_bound_errors
from mockserver.limits import check_rate
from mockserver.vendor import Exchange, empty_answer

__all__ = ["BUILD_TIME", "HANDLERS"]

BUILD_TIME = 1763856000  # epoch seconds of this build; the "dob" part of healthz's version


def _service(x: Exchange) -> str:
    """The 1Kosmos service an operation belongs to, by its root: ``events`` or ``reports``."""
    return x.operation.path.split("/", 2)[1]


@contextmanager
def _signed(x: Exchange, tenant_id: str | None = None, community_id: str | None = None) -> Iterator[Caller]:
    """The verified caller of a signed operation, allowed to call it; the block answers the request.

    Any refusal once the caller is known (its rate, its license's reach, its body) is a replay's
    refusal if its request id was used: a replay is refused before anything else found after the
    license, whatever else is wrong with it. Accepted requests learn it when the id is recorded.
    """
    backend, config = x.backend, x.config
    caller = verify_caller(
        x.request.headers,
        backend.kosmos,
        now=backend.clock(),
        window=float(config["ALLOWED_TIME_SPAN"]),
        replay_protection=bool(config["REPLAY_PROTECTION"]),
        replay_memory=float(config["REPLAY_MEMORY"]),
        seen=x.seen,
        service=_service(x),
    )
    try:
        check_rate(x, f"kosmos:{caller.license.key_id}", "license")
        level = x.operation.extension("x-required-auth-level", "community")
        why = caller.license.allows(level, tenant_id, community_id)
        if why:
            raise LicenseForbidden(why)
        yield caller
    except ApiError as exc:
        if isinstance(exc, ReplayedRequestId) or (replay := replay_refusal(backend.kosmos, caller)) is None:
            raise
        raise replay from exc


def _answer(x: Exchange, caller: Caller, body: Any = None, status: int = 200, write: Write | None = None) -> Response:
    """The answer to an authenticated request; then its request id and ``write`` are committed together.

    The answer is built first: nothing is stored unless it can be sent.
    """
    response = x.json(body, status) if body is not None else empty_answer(status)
    response.headers["requestid"] = caller.request_id_text
    commit_request(x.backend.kosmos, caller, write)
    return response


def _check_plain_license(x: Exchange) -> None:
    """A plain ``licensekey`` header is optional on healthz and environment, but must be valid."""
    license_key = x.checked.header.get("licensekey")
    if license_key is None:
        return
    record = valid_license(x.backend.kosmos, license_key.strip(), x.backend.clock(), x.seen)
    check_rate(x, f"kosmos:{record.key_id}", "license")


def get_healthz(x: Exchange) -> Response:
    _check_plain_license(x)
    body = {
        "status": "all services operational",
        "publicKey": x.backend.kosmos.primary_key(_service(x)).public_key,
        "code": "200",
        "version": f"{x.config['VERSION']}.{x.config['COMMIT']}.{BUILD_TIME}",
    }
    if "synthetic-heartbeat" in x.checked.header:
        body["syntheticheartbeatId"] = str(uuid.uuid4())
    return x.json(body)


def get_public_keys(x: Exchange) -> Response:
    return x.json({"publicKey": x.backend.kosmos.primary_key(_service(x)).public_key})


def get_service_keys(x: Exchange) -> Response:
    with _signed(x) as caller:
        return _answer(x, caller, [k.public_view() for k in x.backend.kosmos.service_keys()])


def reset_service_key(x: Exchange, keyId: str) -> Response:  # noqa: N803 - the spec's parameter name
    store = x.backend.kosmos

    def rotate(tx: Transaction) -> None:
        if not store.replace_service_key(tx, key):
            raise ServiceKeyNotFound(f"no service key with keyId {keyId}")

    with _signed(x) as caller:
        key = store.new_service_key(keyId)
        return _answer(x, caller, key.public_view(), write=rotate)


def ecdsa_helper(x: Exchange, method: str) -> Response:
    body = x.checked.body
    try:
        key = kosmos_crypto.shared_key(body["privateKey"], body["publicKey"], x.backend.kosmos.curve)
        if method == "encrypt":
            data = kosmos_crypto.encrypt(body["dataStr"], key)
        else:
            data = kosmos_crypto.decrypt_text(body["dataStr"], key)
    except CryptoError as exc:
        raise KosmosError(f"{method} failed: {exc}") from exc
    return x.json({"data": data})


def get_environment(x: Exchange) -> Response:
    _check_plain_license(x)
    return x.json(
        {
            "EC_CURVE_NAME": x.backend.kosmos.curve,
            "allowed_time_span": int(x.config["ALLOWED_TIME_SPAN"]),
            "replay_protection": bool(x.config["REPLAY_PROTECTION"]),
        }
    )


def get_service_directory(x: Exchange) -> Response:
    root = x.request.host_url.rstrip("/")
    return x.json(discovery.service_directory(root, bool(x.config["ADMIN_ENABLED"])))


def fetch_community_info(x: Exchange) -> Response:
    store = x.backend.kosmos
    return x.json(discovery.community_info(x.checked.body, store.licenses(), store.primary_key("events").public_key))


def create_event(x: Exchange, tenantId: str, communityId: str, eventName: str) -> Response:  # noqa: N803
    backend = x.backend
    with _signed(x, tenantId, communityId) as caller:
        data = open_event_data(x.checked.body["data"], caller.shared_key)
        x.spec.check("/components/schemas/EventData", data, "data")
        event = build_event(
            data,
            tenant_id=tenantId,
            community_id=communityId,
            event_name=eventName,
            request_id=caller.request_id,
            now=backend.clock(),
        )
        return _answer(x, caller, write=lambda tx: backend.kosmos.write_event(tx, event))


def _bound_errors(
    x: Exchange, query: dict[str, Any], *, equal_allowed: bool
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A query's ``from``/``to`` in epoch ms, and the refusals of them in the vendor's words."""
    bounds, errors = {}, []
    for name in ("from", "to"):
        if name in query:
            try:
                bounds[name] = int(parse_event_time(query[name]) * 1000)
            except KosmosError:
                errors.append((name, f"{query[name]!r} is not a date"))
    now_ms = int(x.backend.clock() * 1000)
    errors += query_bound_errors(bounds, now_ms, int(x.config["QUERY_HISTORY_DAYS"]), equal_allowed=equal_allowed)
    return bounds, errors


def query_events(x: Exchange, tenantId: str, communityId: str) -> Response:  # noqa: N803
    query = x.checked.body
    page_size, page_index = query.get("pSize", 25), query.get("pIndex", 0)
    with _signed(x, tenantId, communityId) as caller:
        bounds, errors = _bound_errors(x, query, equal_allowed=False)
        if errors:
            raise QueryParamRefused(errors)
        page = x.backend.kosmos.query_events(
            tenantId,
            communityId,
            page_size=page_size,
            page_index=page_index,
            start_ms=bounds.get("from"),
            end_ms=bounds.get("to"),
            event_name=query.get("query", {}).get("event_name"),
        )
        page_info = {"total": page.total, "pSize": page_size, "pIndex": page_index}
        return _answer(x, caller, {"page": page_info, "data": page.events})


def query_metrics(x: Exchange, tenantId: str, communityId: str) -> Response:  # noqa: N803
    query = x.checked.body
    with _signed(x, tenantId, communityId) as caller:
        counted = x.operation.extension("x-metrics")[query["metricsName"]]  # the spec's enum took only these
        bounds, errors = _bound_errors(x, query, equal_allowed=True)
        if errors:
            raise QueryParamRefused(errors)
        store = x.backend.kosmos
        count = sum(
            store.count_events(
                tenantId, communityId, start_ms=bounds.get("from"), end_ms=bounds.get("to"), event_name=n
            )
            for n in counted
        )
        return _answer(x, caller, {"count": count})


HANDLERS = {
    "getHealthz": get_healthz,
    "getReportsHealthz": get_healthz,
    "getPublicKeys": get_public_keys,
    "getReportsPublicKeys": get_public_keys,
    "getServiceKeys": get_service_keys,
    "resetServiceKey": reset_service_key,
    "ecdsaHelper": ecdsa_helper,
    "reportsEcdsaHelper": ecdsa_helper,
    "getEnvironment": get_environment,
    "getServiceDirectory": get_service_directory,
    "getCaasServiceDirectory": get_service_directory,
    "fetchCommunityInfo": fetch_community_info,
    "createEvent": create_event,
    "queryEvents": query_events,
    "queryMetrics": query_metrics,
}
