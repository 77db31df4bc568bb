"""1Kosmos checks of the reports service at its own root, and of the discovery the vendor's helpers do first.

The reports service has its own key and helper endpoints and answers every refusal in its own
envelope, ``{"errors": [{"message", "param"}]}``, in the words of the vendor's published Postman
collection; the helpers read ``/caas/sd`` and ``/api/r1/system/community_info/fetch`` before anything.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from conformance.core import CheckFailed, Context, check, expect_refusal, expect_reports_errors, expect_status
from conformance.kosmos_checks import helper_vectors, service_key_and_health
from conformance.kosmos_probe import FROM_REFUSED, Caller, kosmos, query_time, service_public_key

API = "kosmos"
READER = ("kosmos.licenses.community|tenant|service|system",)
"""Any license that may read the tenant and community."""
NOT_EMPTY = "This header should not be empty"
NOT_DECRYPTABLE = "This header can't be decrypted"
FIELD_EMPTY = "This field should not be empty"
NO_SUCH_METRIC = "Metrics with that name doesn't exist"
TO_NOT_BEFORE_FROM = ("to", "Date 'to' must be after or equal to 'from'")
METRIC = "M_GT_SUCCESSFUL_AUTHENTICATIONS"
"""A metric name the vendor's collection sends."""
SD_REQUIRED = ("events", "reports", "licenses", "sessions", "adminconsole", "authn", "authz", "user_management")
"""Services the vendor's helpers and Postman collection require in ``/caas/sd`` (the Node helper drops a
directory without ``licenses``; the Postman test fails one without the others)."""


def _reader(ctx: Context) -> Caller:
    target = kosmos(ctx)
    return Caller(ctx, target.writer() or "")


@check(
    "kosmos.reports_service_key",
    API,
    "the reports service has its own /reports/publickeys (healthz agrees); a query encrypted to it is accepted, "
    "one encrypted to another service's key is refused",
    family="envelope",
    operations=("getReportsPublicKeys", "getReportsHealthz"),
    needs=READER,
)
def reports_service_key(ctx: Context) -> None:
    reports_key = service_key_and_health(ctx, "reports")
    caller = _reader(ctx)
    expect_status(caller.query(pSize=1), "a query with headers encrypted to /reports/publickeys", (200,))
    if reports_key == service_public_key(ctx, service="events"):
        return  # one key for both services: nothing more to tell apart
    wrong = caller.headers(service="events")
    response = caller.query(headers=wrong, pSize=1)
    expect_refusal(response, "a query with headers encrypted to the events service's key", 400)
    errors = {(e["param"], e["message"]) for e in response.json()["errors"]}
    if not errors & {("licensekey", NOT_DECRYPTABLE), ("requestid", NOT_DECRYPTABLE)}:
        raise CheckFailed(f"headers encrypted to another key: errors {sorted(errors)}, not {NOT_DECRYPTABLE!r}")
    target = kosmos(ctx)
    path = f"/events/tenant/{target.tenant}/community/{target.community}/event/E_CONFORMANCE_WRONG_KEY_{ctx.run_id}"
    put = ctx.http.put(
        ctx.url(path), headers=caller.headers(service="reports"), json={"data": caller.seal({"type": "conformance"})}
    )
    expect_refusal(put, "a PUT with headers encrypted to the reports service's key", 400)


@check(
    "kosmos.reports_ecdsa_helper_vectors",
    API,
    "/reports/ecdsa_helper encrypts and decrypts like the fixed vectors (also with the Postman body's extra "
    "`method`); bad tag or key: 400 in the reports envelope",
    family="envelope",
    operations=("reportsEcdsaHelper",),
)
def reports_ecdsa_helper_vectors(ctx: Context) -> None:
    helper_vectors(ctx, "reports")
    caller = _reader(ctx)
    body = {  # the vendor's Postman pre-request script sends `method` too
        "method": "encrypt",
        "publicKey": service_public_key(ctx, service="reports"),
        "privateKey": caller.private_key,
        "dataStr": f"postman {ctx.run_id}",
    }
    response = ctx.http.post(ctx.url("/reports/ecdsa_helper/encrypt"), json=body)
    expect_status(response, "the Postman collection's helper body", (200,))
    sealed = response.json().get("data")
    opened = ctx.http.post(ctx.url("/reports/ecdsa_helper/decrypt"), json={**body, "dataStr": sealed})
    expect_status(opened, "decrypting what the helper encrypted", (200,))
    if opened.json().get("data") != body["dataStr"]:
        raise CheckFailed(f"the reports helper did not give back what it encrypted: {opened.text[:200]}", opened)


@check(
    "kosmos.reports_refusal_envelope",
    API,
    "every refusal of the reports service is {errors: [{message, param}]} in the vendor's words: empty and "
    "undecryptable headers, bad licenses and request ids, bad bodies, unknown routes",
    family="errors",
    operations=("queryEvents", "queryMetrics"),
    needs=READER,
)
def reports_refusal_envelope(ctx: Context) -> None:
    caller = _reader(ctx)
    for what in ("events", "metrics"):
        body = {"pSize": 1} if what == "events" else {"metricsName": METRIC}
        good = caller.headers(service="reports")
        for header in ("licensekey", "requestid", "publickey"):
            response = caller.report(what, headers={**good, header: ""}, **body)
            expect_reports_errors(response, f"{what}: an empty {header}", [(header, NOT_EMPTY)])
        for header, value in (("licensekey", "<API Key>"), ("requestid", "<string>")):  # the collection's placeholders
            headers = caller.headers(service="reports")
            response = caller.report(what, headers={**headers, header: value}, **body)
            expect_reports_errors(response, f"{what}: a {header} that is not encrypted", [(header, NOT_DECRYPTABLE)])
        unknown = caller.headers(license_key=f"no-such-license-{uuid.uuid4()}", service="reports")
        expect_refusal(caller.report(what, headers=unknown, **body), f"{what}: an unknown license", 401)
        stale = caller.headers(caller.request_id(ts=time.time() - 3600), service="reports")
        expect_refusal(caller.report(what, headers=stale, **body), f"{what}: a request id an hour old", 401)
        target = kosmos(ctx)
        path = f"/reports/tenant/{target.tenant}/community/{target.community}/{what}"
        headers = {**caller.headers(service="reports"), "Content-Type": "application/json"}
        response = ctx.http.post(ctx.url(path), content=b'{"pSize": ', headers=headers)
        expect_refusal(response, f"{what}: a body that is not JSON", 400)
        headers = {**caller.headers(service="reports"), "Content-Type": "text/plain"}
        response = ctx.http.post(ctx.url(path), content=json.dumps(body), headers=headers)
        expect_refusal(response, f"{what}: a text/plain body", 415)
        expect_status(caller.report(what, **body), f"{what}: the good twin", (200,))
    expect_refusal(ctx.http.get(ctx.url(f"/reports/no-such-route-{ctx.run_id}")), "an unknown reports route", 404)


@check(
    "kosmos.reports_metrics",
    API,
    "metrics answers {count}; from equal to to is accepted; a missing, empty or unknown metricsName, a from over "
    "90 days old or in the future, a to before from: 400, every error at once, in the vendor's words",
    family="query",
    operations=("queryMetrics",),
    needs=READER,
)
def reports_metrics(ctx: Context) -> None:
    caller = _reader(ctx)
    day_ago = query_time(time.time() - 86400)
    response = caller.report("metrics", metricsName=METRIC, **{"from": day_ago, "to": day_ago})
    expect_status(response, "metrics with from equal to to (the vendor's own example)", (200,))
    answer = response.json()
    if not (isinstance(answer, dict) and type(answer.get("count")) is int and answer["count"] >= 0):
        raise CheckFailed(f"metrics answered {response.text[:200]}, not {{count: <integer>}}", response)
    refused: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
        ({}, [("metricsName", FIELD_EMPTY)]),
        ({"metricsName": ""}, [("metricsName", FIELD_EMPTY)]),
        ({"metricsName": f"M_NO_SUCH_METRIC_{ctx.run_id}"}, [("metricsName", NO_SUCH_METRIC)]),
        ({"metricsName": METRIC, "from": query_time(time.time() + 3600)}, [FROM_REFUSED]),
        (
            {
                "metricsName": METRIC,
                "from": query_time(time.time() - 100 * 86400),
                "to": query_time(time.time() - 101 * 86400),
            },
            [FROM_REFUSED, TO_NOT_BEFORE_FROM],
        ),
        ({"metricsName": METRIC, "from": day_ago, "to": query_time(time.time() - 2 * 86400)}, [TO_NOT_BEFORE_FROM]),
    ]
    for body, errors in refused:
        expect_reports_errors(caller.report("metrics", **body), f"metrics {body}", errors)


@check(
    "kosmos.discovery",
    API,
    "GET /caas/sd lists the services the vendor's helpers require, events and reports answering their "
    "/publickeys; community_info/fetch names the tenant and community by id",
    family="envelope",
    operations=("getCaasServiceDirectory", "fetchCommunityInfo"),
)
def discovery(ctx: Context) -> None:
    target = kosmos(ctx)
    response = ctx.http.get(ctx.url("/caas/sd"))
    expect_status(response, "GET /caas/sd", (200,))
    directory = response.json()
    if not isinstance(directory, dict) or (missing := [k for k in SD_REQUIRED if not directory.get(k)]):
        raise CheckFailed(f"/caas/sd lacks what the vendor's helpers require: {missing}", response)
    for service in ("events", "reports"):
        url = str(directory[service]).rstrip("/")
        answer = ctx.http.get(f"{url}/publickeys")
        expect_status(answer, f"GET {url}/publickeys (sd.{service})", (200,))
        if answer.json().get("publicKey") != service_public_key(ctx, service=service):
            raise CheckFailed(f"sd.{service} points at a service with another key than /{service}/publickeys", answer)
    lookup = {"tenantId": target.tenant, "communityId": target.community}
    response = ctx.http.post(ctx.url("/api/r1/system/community_info/fetch"), json=lookup)
    expect_status(response, f"community_info/fetch {lookup}", (200,))
    info = response.json()
    tenant, community = info.get("tenant") or {}, info.get("community") or {}
    found = (tenant.get("id"), community.get("id"), community.get("tenantid"))
    if found != (target.tenant, target.community, target.tenant):
        raise CheckFailed(f"community_info/fetch {lookup} named tenant/community/tenantid {found}", response)
    if not isinstance(tenant.get("tenanttag"), str) or not community.get("logo"):
        raise CheckFailed("community_info/fetch lacks tenant.tenanttag or community.logo (the helpers read them)")
