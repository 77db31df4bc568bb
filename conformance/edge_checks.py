"""Every documented bound of the APIs' inputs, probed at its edge and one step past it.

The probes are made from the specs the kit ships (not from the server's): for each parameter and
body field of an operation with a ``minLength``, ``maxLength``, ``minimum``, ``maximum``, an
``enum`` or a ``required`` list, one request at the edge (the spec takes it: anything but 400)
and one past it (the spec refuses it: 400 in the API's error format). Everything else in the
request is valid and correctly signed, so the edge is the only thing that can decide. A field
whose values have a meaning beyond their length (keys, ciphertexts, dates) is left to the checks
that send meaningful values; the path parameters' empty values would be another route.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from conformance import wire
from conformance.core import CheckFailed, Context, SkipCheck, check, expect_refusal
from conformance.kosmos_probe import Caller, kosmos, query_time, service_curve
from conformance.specs import resolve, spec
from eventclient import jws

MISSING = object()
"""A probe value: the field left out."""


@dataclass(frozen=True)
class Probe:
    """One request input at (``valid``) or past (not ``valid``) a documented bound."""

    where: str
    """``path``, ``query``, ``header`` or ``body``."""
    name: str
    rule: str
    value: Any
    valid: bool

    def describe(self) -> str:
        """How the report names it."""
        shown = "left out" if self.value is MISSING else _shown(self.value)
        return f"{self.where} {self.name} {shown} ({self.rule}: {'taken' if self.valid else 'refused'})"


def _shown(value: Any) -> str:
    if isinstance(value, str) and len(value) > 12:
        return f"{len(value)} characters"
    return repr(value)


def bounds(schema: dict[str, Any]) -> Iterator[tuple[str, Any, bool]]:
    """``(rule, value, valid)`` for each documented bound of one value's schema."""
    if schema.get("format") == "uuid":
        yield "format uuid", "0f58aa7a-c10a-4835-a4d5-431a21d34a59", True
        yield "format uuid", "not-a-uuid", False
        return
    if "pattern" in schema or ("format" in schema and schema.get("type") == "string"):
        return  # a value of the right length must also match: left to meaningful checks
    if "enum" in schema:
        for value in schema["enum"]:
            yield f"enum {value}", value, True
        yield "enum", "not-a-listed-value", False
        return
    if schema.get("type") == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if low > 0:
            yield f"minLength {low}", "a" * low, True
            yield f"minLength {low}", "a" * (low - 1), False
        if high is not None:
            yield f"maxLength {high}", "a" * high, True
            yield f"maxLength {high}", "a" * (high + 1), False
    elif schema.get("type") in ("integer", "number"):
        for keyword, step in (("minimum", -1), ("maximum", 1)):
            if keyword in schema:
                yield f"{keyword} {schema[keyword]}", schema[keyword], True
                yield f"{keyword} {schema[keyword]}", schema[keyword] + step, False
                yield f"{keyword} {schema[keyword]}", schema[keyword] + step * 2**64, False  # past any machine int


@dataclass(frozen=True)
class Operation:
    """How to send one operation validly, with one input changed."""

    spec: str
    operation_id: str
    send: Callable[[Context, dict[str, dict[str, Any]]], httpx.Response]
    """Sends a valid request whose inputs (``path``, ``query``, ``header``, ``body``) are updated by the given ones."""
    meaningful: frozenset[str] = frozenset()
    """Inputs whose values mean more than their length: not probed here."""
    body_schema: str | None = None
    """A body schema other than the request body's (the 10Duke JWS payload's)."""
    nested: tuple[tuple[str, str], ...] = ()
    """Body fields whose object form has a schema of its own (``data`` -> EventData): probed as ``data.<field>``."""
    extra: Callable[[], tuple[Probe, ...]] = tuple
    """Probes of rules no bound keyword states (a pattern's near misses), made when sent (they may hold the time)."""


def _operation(document: dict[str, Any], operation_id: str) -> tuple[str, str, dict[str, Any]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return method, path, operation
    raise KeyError(operation_id)


def probes(op: Operation) -> Iterator[Probe]:
    """Every probe of ``op``'s documented bounds."""
    document = spec(op.spec)
    _, _, operation = _operation(document, op.operation_id)
    for parameter in operation.get("parameters", []):
        parameter = resolve(document, parameter)
        where, name = parameter["in"], parameter["name"]
        if name in op.meaningful:
            continue
        for rule, value, valid in bounds(resolve(document, parameter.get("schema", {}))):
            if where == "path" and value == "":
                continue  # an empty path segment is another route
            yield Probe(where, name, rule, value, valid)
        if parameter.get("required") and where != "path":
            yield Probe(where, name, "required", MISSING, False)
    yield from _object_probes(document, _body_schema(document, operation, op.body_schema), "", op.meaningful)
    for name, ref in op.nested:
        yield from _object_probes(document, resolve(document, {"$ref": ref}), f"{name}.", op.meaningful)
    yield from op.extra()


def _object_probes(
    document: dict[str, Any], schema: dict[str, Any], prefix: str, meaningful: frozenset[str]
) -> Iterator[Probe]:
    """Probes of an object's required fields, its fields' bounds and its closed set of fields.

    One level of nested objects is probed too (``query.event_name``).
    """
    for name in schema.get("required", []):  # a field left out has no meaning to get wrong
        yield Probe("body", prefix + name, "required", MISSING, False)
    alternatives = [set(option.get("required", ())) for option in schema.get("anyOf", ())]
    if alternatives and all(alternatives):  # one of these sets of fields is required: send none of them
        fields = sorted(set().union(*alternatives))
        yield Probe("body", "|".join(prefix + f for f in fields), "anyOf required", MISSING, False)
    if schema.get("additionalProperties") is False:
        yield Probe("body", prefix + "not_in_the_spec", "additionalProperties false", 1, False)
    for name, field_schema in schema.get("properties", {}).items():
        if name in meaningful:
            continue
        field_schema = resolve(document, field_schema)
        if field_schema.get("type") == "object" and not prefix:
            yield from _object_probes(document, field_schema, f"{name}.", meaningful)
            continue
        for rule, value, valid in bounds(field_schema):
            yield Probe("body", prefix + name, rule, value, valid)


def _body_schema(document: dict[str, Any], operation: dict[str, Any], override: str | None) -> dict[str, Any]:
    if override:
        return dict(resolve(document, {"$ref": override}))
    content = resolve(document, operation.get("requestBody", {})).get("content", {})
    media = next(iter(content.values()), {})
    schema = resolve(document, media.get("schema", {}))
    return schema if isinstance(schema, dict) else {}


def _apply(defaults: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` with ``changes`` made (``a.b`` names a field of the object ``a``; MISSING leaves a field out)."""
    merged = dict(defaults)
    for name, value in changes.items():
        if "|" in name:  # several fields at once (all left out)
            merged = _apply(merged, dict.fromkeys(name.split("|"), value))
            continue
        outer, _, inner = name.partition(".")
        if inner:
            merged[outer] = _apply(merged.get(outer) or {}, {inner: value})
        elif value is MISSING:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def judge(ctx: Context, op: Operation) -> None:
    """Send every probe of ``op``; fail at the first answer the spec does not allow."""
    for probe in probes(op):
        response = op.send(ctx, {probe.where: {probe.name: probe.value}})
        what = f"{op.operation_id}: {probe.describe()}"
        if probe.valid:
            if response.status_code == 400 or response.status_code >= 500:
                raise CheckFailed(f"{what}: got {response.status_code}, a value the spec takes", response)
        else:
            expect_refusal(response, what, 400)


# --- 1Kosmos ----------------------------------------------------------------------------------------


def _broad_license(ctx: Context) -> str:
    licenses = kosmos(ctx).licenses
    for role in ("system", "service"):
        if role in licenses:
            return licenses[role]
    raise SkipCheck("needs kosmos.licenses.system or .service: bounds of tenant and community ids reach any tenant")


def _kosmos_signed(
    method: str, template: str, service: str, body: Callable[[], dict[str, Any]] | None = None
) -> Callable[[Context, dict[str, dict[str, Any]]], httpx.Response]:
    def send(ctx: Context, change: dict[str, dict[str, Any]]) -> httpx.Response:
        target = kosmos(ctx)
        caller = ctx.cache.get("edge-caller") or ctx.cache.setdefault("edge-caller", Caller(ctx, _broad_license(ctx)))
        path = template.format(
            **_apply(
                {"tenantId": target.tenant, "communityId": target.community, "eventName": f"E_EDGE_{ctx.run_id}"},
                change.get("path", {}),
            )
        )
        headers = _apply(caller.headers(service=service), change.get("header", {}))
        content = _apply(body(), change.get("body", {})) if body else None
        plain = any(name.startswith("data.") for name in change.get("body", {}))  # the Swagger form, as sent
        if template.startswith("/events/tenant/") and "data" in content and not plain:  # type: ignore[operator]
            content["data"] = caller.seal(content["data"])  # type: ignore[index]
        return ctx.http.request(method, ctx.url(path), headers=headers, json=content)

    return send


def _window() -> dict[str, Any]:
    now = time.time()
    return {"from": query_time(now - 3600), "to": query_time(now + 1)}


def _query_time_forms() -> tuple[Probe, ...]:
    """``from`` exactly as documented (``YYYY-MM-DD HH:MM:SS.SSS``, milliseconds optional) and near misses of it."""
    hour_ago = query_time(time.time() - 3600)
    iso = hour_ago.replace(" ", "T") + "Z"
    rule = "pattern YYYY-MM-DD HH:MM:SS(.SSS)"
    return (
        Probe("body", "from", rule, hour_ago, True),
        Probe("body", "from", rule, hour_ago[:-4], True),
        Probe("body", "from", rule, iso, False),
        Probe("body", "from", rule, hour_ago + "0", False),
    )


def _plain(path: str) -> Callable[[Context, dict[str, dict[str, Any]]], httpx.Response]:
    def send(ctx: Context, change: dict[str, dict[str, Any]]) -> httpx.Response:
        headers = _apply({"licensekey": _broad_license(ctx)}, change.get("header", {}))
        return ctx.http.get(ctx.url(path), headers=headers)

    return send


def _helper(service: str) -> Callable[[Context, dict[str, dict[str, Any]]], httpx.Response]:
    def send(ctx: Context, change: dict[str, dict[str, Any]]) -> httpx.Response:
        pairs = wire.kosmos_vectors(service_curve(ctx))["keypairs"]
        method = _apply({"method": "encrypt"}, change.get("path", {}))["method"]
        body = {"dataStr": "edge", "publicKey": pairs[1]["publicKey"], "privateKey": pairs[0]["privateKey"]}
        if method == "decrypt":
            key = wire.ecdh_key(pairs[0]["privateKey"], pairs[1]["publicKey"], service_curve(ctx))
            body["dataStr"] = wire.seal(b"edge", key)
        return ctx.http.post(ctx.url(f"/{service}/ecdsa_helper/{method}"), json=_apply(body, change.get("body", {})))

    return send


def _community_info(ctx: Context, change: dict[str, dict[str, Any]]) -> httpx.Response:
    body = _apply({"tenantId": kosmos(ctx).tenant, "communityId": kosmos(ctx).community}, change.get("body", {}))
    return ctx.http.post(ctx.url("/api/r1/system/community_info/fetch"), json=body)


EVENT_PATH = "/events/tenant/{tenantId}/community/{communityId}/event/{eventName}"
REPORTS_PATH = "/reports/tenant/{tenantId}/community/{communityId}"
KEYS = frozenset({"publicKey", "privateKey", "dataStr"})
KOSMOS_OPERATIONS = (
    Operation(
        "kosmos-events",
        "createEvent",
        _kosmos_signed("PUT", EVENT_PATH, "events", lambda: {"data": {"type": "edge"}}),
        nested=(("data", "#/components/schemas/EventData"),),
    ),
    Operation(
        "kosmos-events",
        "queryEvents",
        _kosmos_signed("POST", REPORTS_PATH + "/events", "reports", lambda: {"pSize": 1, **_window()}),
        extra=_query_time_forms,
    ),
    Operation(
        "kosmos-events",
        "queryMetrics",
        _kosmos_signed(
            "POST", REPORTS_PATH + "/metrics", "reports", lambda: {"metricsName": "M_C_LOGINS", **_window()}
        ),
        extra=_query_time_forms,
    ),
    Operation(
        "kosmos-events", "resetServiceKey", _kosmos_signed("DELETE", "/events/servicekey/{keyId}", "events", None)
    ),
    Operation("kosmos-events", "getHealthz", _plain("/events/healthz")),
    Operation("kosmos-events", "getEnvironment", _plain("/events/environment")),
    Operation("kosmos-events", "getReportsHealthz", _plain("/reports/healthz")),
    Operation("kosmos-events", "ecdsaHelper", _helper("events"), meaningful=KEYS),
    Operation("kosmos-events", "reportsEcdsaHelper", _helper("reports"), meaningful=KEYS),
    Operation("kosmos-events", "fetchCommunityInfo", _community_info),
)


@check(
    "kosmos.input_bounds",
    "kosmos",
    "every documented bound of a parameter or body field (lengths, ranges, enums, required): at the edge taken, "
    "one past it 400",
    family="bodies",
    operations=tuple(op.operation_id for op in KOSMOS_OPERATIONS),
    needs=("kosmos.licenses.system|service",),
)
def kosmos_input_bounds(ctx: Context) -> None:
    kosmos(ctx)
    for op in KOSMOS_OPERATIONS:
        judge(ctx, op)


# --- 10Duke -----------------------------------------------------------------------------------------


def _feed(template: str) -> Callable[[Context, dict[str, dict[str, Any]]], httpx.Response]:
    def send(ctx: Context, change: dict[str, dict[str, Any]]) -> httpx.Response:
        target = ctx.target.tenduke
        if target is None:
            raise SkipCheck("no 10Duke credentials given")
        defaults = {"eventSourceId": "edge", "eventObjectType": "edge", "eventObjectId": "edge"}
        path = template.format(**_apply(defaults, change.get("path", {})))
        token = jws.sign_bearer({"*": True, "exp": int(time.time()) + 300}, target.private_key_pem)
        headers = {"Authorization": f"Bearer {token}"}
        return ctx.http.get(ctx.url(path), params=change.get("query", {}), headers=headers)

    return send


def _put(ctx: Context, change: dict[str, dict[str, Any]]) -> httpx.Response:
    target = ctx.target.tenduke
    if target is None:
        raise SkipCheck("no 10Duke credentials given")
    event = _apply({"eventSourceId": f"{target.feed}-{ctx.run_id}-edge", "eventType": "edge"}, change.get("body", {}))
    probed = change.get("body", {})
    if any(isinstance(probed.get(name), str) for name in ("eventObjectType", "eventObjectId")):
        event = {"eventObjectType": "edge", "eventObjectId": "edge", **event}  # the pair comes together
    body = jws.sign_jws(event, target.private_key_pem)
    return ctx.http.post(ctx.url("/put"), content=body, headers={"Content-Type": "application/jose"})


def _nulls_read_as_absent() -> tuple[Probe, ...]:
    """An optional envelope field sent as JSON null is taken, as unset (the spec's ``x-null-means-absent``)."""
    _, _, operation = _operation(spec("tenduke-events"), "putEvents")
    fields = operation.get("x-null-means-absent", ())
    return tuple(Probe("body", name, "null means absent", None, True) for name in fields)


TENDUKE_OPERATIONS = (
    Operation(
        "tenduke-events",
        "putEvents",
        _put,
        body_schema="#/components/schemas/EventEnvelope",
        extra=_nulls_read_as_absent,
    ),
    Operation("tenduke-events", "getSourceFeed", _feed("/get/{eventSourceId}")),
    Operation("tenduke-events", "getObjectFeed", _feed("/get/{eventObjectType}/{eventObjectId}")),
)


@check(
    "tenduke.input_bounds",
    "tenduke",
    "every documented bound of a parameter or event field (lengths, ranges, required): at the edge taken, "
    "one past it 400",
    family="events",
    operations=tuple(op.operation_id for op in TENDUKE_OPERATIONS),
    needs=("tenduke.client_key",),
)
def tenduke_input_bounds(ctx: Context) -> None:
    for op in TENDUKE_OPERATIONS:
        judge(ctx, op)
