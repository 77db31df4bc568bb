"""The schema phase's engine: schemathesis sends every operation of a spec, positive and negative cases.

Each generated case gets fresh, valid credentials just before it is sent, and is signed over the
exact bytes sent: a positive 10Duke ``/put`` body becomes a real JWS of a valid event; a
positive 1Kosmos event body gets its ``data`` encrypted. Negative cases keep what makes them
invalid. Responses are checked for server errors, documented status codes and content types,
response schemas, and negative data being rejected.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from conformance.core import CheckFailed, Context
from conformance.specs import SPECS
from eventclient import KosmosClient, jws

RESPONSE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@schemathesis.serializer("application/jose")
def _jose(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """A compact JWS is text; anything else generated for it is sent as JSON (and must be refused)."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


def _sign_kosmos(ctx: Context, case: schemathesis.Case, positive: bool) -> None:
    target = ctx.target.kosmos
    assert target is not None
    if not case.operation.definition.raw.get("security"):
        return
    client = ctx.cache.setdefault(
        "schema-kosmos-client",
        KosmosClient(ctx.url("/events"), target.writer() or "", app_id="conformance-schema", session=ctx.http),
    )
    service = case.operation.path.split("/")[1]  # each service has its own key: encrypt to the one called
    case.headers = {**(case.headers or {}), **client.auth_headers(service_url=ctx.url(f"/{service}"))}
    if positive:
        params = case.path_parameters or {}
        if "tenantId" in params:
            params.update(tenantId=target.tenant, communityId=target.community)
        if isinstance(case.body, dict) and isinstance(case.body.get("data"), dict):
            case.body = {**case.body, "data": client.encrypt(case.body["data"])}


def _sign_tenduke(ctx: Context, case: schemathesis.Case, positive: bool) -> None:
    target = ctx.target.tenduke
    assert target is not None
    if case.operation.method.upper() == "GET":
        token = jws.sign_bearer({"*": True, "exp": int(time.time()) + 300}, target.private_key_pem)
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    elif positive:
        event = {"eventSourceId": f"{target.feed}-{ctx.run_id}-schema", "eventType": "conformance_schema"}
        case.body = jws.sign_jws(event, target.private_key_pem)


def sendable(case: schemathesis.Case) -> bool:
    """Whether ``case`` reaches the server as the operation it was generated for.

    A path parameter holding ``/`` (or being ``.`` or ``..``) is another path for any HTTP server:
    ``%2F`` is decoded before routing, and dot segments are removed. A negative 501-character
    ``eventSourceId`` with a ``/`` after its first character reached the mock as
    ``/get/{type}/{499 characters}``, a valid object feed, and the correct 200 was reported as
    invalid data accepted: the kit's one false alarm in about ninety runs (issue 31).
    """
    values = (str(value) for value in (case.path_parameters or {}).values())
    return not any("/" in value or value in (".", "..") for value in values)


def _exercise(
    ctx: Context, operation: Any, mode: GenerationMode, sign: Any, max_examples: int
) -> list[tuple[str, str, str]]:
    """Send ``max_examples`` generated cases of one operation; return the first failure, if any."""
    found: list[tuple[str, str, str]] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,  # failures are reported by the kit, not printed by hypothesis
    )
    def exercise(case: schemathesis.Case) -> None:
        if found:
            return  # one failure per operation and mode is enough to report
        assume(sendable(case))
        sign(ctx, case, mode == GenerationMode.POSITIVE)
        response = case.call(base_url=ctx.target.base_url, timeout=30)
        try:
            case.validate_response(response, checks=RESPONSE_CHECKS)
        except (AssertionError, BaseExceptionGroup) as failure:  # schemathesis raises a group of failures
            lines = str(failure).strip().splitlines()
            found.append((operation.label, mode.value, " ".join(lines[:8])[:500]))
            found.append(("curl", "", case.as_curl_command(base_url=ctx.target.base_url)))

    if ctx.options.get("seed") is not None:
        exercise = hypothesis_seed(int(ctx.options["seed"]))(exercise)
    with contextlib.suppress(Unsatisfiable):  # no input can be made invalid (e.g. GET /publickeys)
        exercise()
    return found


def run_spec(ctx: Context, spec_name: str) -> None:
    """Send generated cases of every operation of ``spec_name``; CheckFailed names each operation and mode failing."""
    sign = SIGNERS[spec_name]
    schema = schemathesis.openapi.from_path(str(SPECS.joinpath(f"{spec_name}.yaml")))
    max_examples = int(ctx.options.get("max_examples", 10))
    failures: list[tuple[str, str, str]] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures.extend(_exercise(ctx, operation, mode, sign, max_examples))
    if failures:
        labels = [f"{label} ({mode})" for label, mode, _ in failures if label != "curl"]
        first = failures[0][2]
        error = CheckFailed(f"{len(labels)} operation/mode pair(s) failed: {', '.join(labels)}. First: {first}")
        error.reproduction = failures[1][2]
        raise error


SIGNERS = {"kosmos-events": _sign_kosmos, "tenduke-events": _sign_tenduke}
"""How each spec's cases get fresh, valid credentials."""
