"""Security and round-trip checks of a 1Kosmos Events service, each registered by name."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx

from conformance.core import CheckFailed, Context, KosmosTarget, SkipCheck, check, expect_status
from eventclient import KosmosClient, kosmos_crypto

API = "kosmos"


def _target(ctx: Context) -> KosmosTarget:
    if ctx.target.kosmos is None:
        raise SkipCheck("no 1Kosmos credentials given")
    return ctx.target.kosmos


def _client(ctx: Context, license_key: str | None = None) -> KosmosClient:
    target = _target(ctx)
    return KosmosClient(ctx.url("/events"), license_key or target.license_key, app_id="conformance", session=ctx.http)


def _event_url(ctx: Context, name: str, tenant: str | None = None) -> str:
    target = _target(ctx)
    return ctx.url(f"/events/tenant/{tenant or target.tenant_id}/community/{target.community_id}/event/{name}")


def _put(ctx: Context, name: str, headers: dict[str, str], data: Any, tenant: str | None = None) -> httpx.Response:
    return ctx.http.put(_event_url(ctx, name, tenant), headers=headers, json={"data": data})


def _event_name(ctx: Context, what: str) -> str:
    return f"E_CONFORMANCE_{what.upper()}_{ctx.run_id}"


def _stored(ctx: Context, name: str) -> list[dict[str, Any]]:
    """Events stored under ``name``, as the query endpoint reports them."""
    target = _target(ctx)
    try:
        page = _client(ctx).query_events(target.tenant_id, target.community_id, page_size=100, event_name=name)
    except Exception as exc:
        raise CheckFailed(f"the query endpoint could not be used to read events back: {exc}") from exc
    return list(page.get("data", []))


def _expect_nothing_stored(ctx: Context, name: str, what: str) -> None:
    if _stored(ctx, name):
        raise CheckFailed(f"{what}: the refused event was stored anyway")


@check("kosmos.public_key", API, "GET /events/publickeys answers a secp256k1 public key")
def public_key(ctx: Context) -> None:
    _target(ctx)
    response = ctx.http.get(ctx.url("/events/publickeys"))
    if response.status_code != 200:
        raise CheckFailed(f"status {response.status_code}", response)
    try:
        kosmos_crypto.load_public_key(response.json()["publicKey"])
    except Exception as exc:
        raise CheckFailed(f"publicKey is not a base64 X||Y secp256k1 point: {exc}", response) from exc


@check("kosmos.signed_event_accepted", API, "a correctly encrypted PUT is accepted (2xx)")
def signed_event_accepted(ctx: Context) -> None:
    client = _client(ctx)
    response = _put(ctx, _event_name(ctx, "accepted"), client.auth_headers(), client.encrypt({"type": "conformance"}))
    if not 200 <= response.status_code < 300:
        raise CheckFailed(f"a valid signed PUT got {response.status_code}: {response.text[:300]}", response)


@check("kosmos.round_trip", API, "an event PUT is found, once, by the event query")
def round_trip(ctx: Context) -> None:
    client = _client(ctx)
    name = _event_name(ctx, "roundtrip")
    marker = {"type": "conformance", "marker": ctx.run_id}
    response = _put(ctx, name, client.auth_headers(), client.encrypt(marker))
    if not 200 <= response.status_code < 300:
        raise CheckFailed(f"the PUT got {response.status_code}", response)
    found = [e for e in _stored(ctx, name) if e.get("marker") == ctx.run_id]
    if len(found) != 1:
        raise CheckFailed(f"the query returned the event {len(found)} times, expected once")


@check("kosmos.missing_header_refused", API, "a request without publickey, licensekey or requestid is refused")
def missing_header_refused(ctx: Context) -> None:
    client = _client(ctx)
    name = _event_name(ctx, "missing")
    for header in ("publickey", "licensekey", "requestid"):
        headers = client.auth_headers()
        del headers[header]
        response = _put(ctx, name, headers, client.encrypt({"type": "conformance"}))
        expect_status(response, f"without {header}", (400, 401))
    _expect_nothing_stored(ctx, name, "missing header")


def _flip(token: str) -> str:
    raw = bytearray(base64.b64decode(token))
    raw[len(raw) // 2] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@check("kosmos.tampered_ciphertext_refused", API, "one flipped bit in licensekey, requestid or data is refused")
def tampered_ciphertext_refused(ctx: Context) -> None:
    client = _client(ctx)
    name = _event_name(ctx, "tampered")
    for part in ("licensekey", "requestid", "data"):
        headers = client.auth_headers()
        data = client.encrypt({"type": "conformance"})
        if part == "data":
            data = _flip(data)
        else:
            headers[part] = _flip(headers[part])
        expect_status(_put(ctx, name, headers, data), f"tampered {part}", (400, 401))
    _expect_nothing_stored(ctx, name, "tampered ciphertext")


def _aged_request(ctx: Context, offset: float, what: str) -> None:
    client = _client(ctx)
    name = _event_name(ctx, what)
    headers = client.auth_headers(client.request_id(ts=time.time() + offset))
    expect_status(_put(ctx, name, headers, client.encrypt({"type": "conformance"})), what, (401,))
    _expect_nothing_stored(ctx, name, what)


@check("kosmos.stale_request_id_refused", API, "a request id 120 s old is refused (401)")
def stale_request_id_refused(ctx: Context) -> None:
    _aged_request(ctx, -120, "stale")


@check("kosmos.future_request_id_refused", API, "a request id 120 s in the future is refused (401)")
def future_request_id_refused(ctx: Context) -> None:
    _aged_request(ctx, 120, "future")


@check("kosmos.replayed_request_id_refused", API, "the same request id a second time is refused (401)")
def replayed_request_id_refused(ctx: Context) -> None:
    client = _client(ctx)
    name = _event_name(ctx, "replay")
    headers, data = client.auth_headers(), client.encrypt({"type": "conformance", "marker": ctx.run_id})
    first = _put(ctx, name, headers, data)
    if not 200 <= first.status_code < 300:
        raise CheckFailed(f"the first use was refused ({first.status_code}), so replay cannot be judged", first)
    expect_status(_put(ctx, name, headers, data), "replayed request id", (401,))
    if len(_stored(ctx, name)) != 1:
        raise CheckFailed("the replayed event was stored")


def _license_refused(ctx: Context, license_key: str, what: str) -> None:
    """A PUT with ``license_key`` must get 401 and store nothing."""
    client = _client(ctx, license_key=license_key)
    name = _event_name(ctx, what.replace(" ", "_"))
    response = _put(ctx, name, client.auth_headers(), client.encrypt({"type": "conformance"}))
    expect_status(response, what, (401,))
    _expect_nothing_stored(ctx, name, what)


@check("kosmos.unknown_license_refused", API, "a license key the service does not know is refused (401)")
def unknown_license_refused(ctx: Context) -> None:
    _license_refused(ctx, f"conformance-unknown-{ctx.run_id}", "unknown license")


@check("kosmos.disabled_license_refused", API, "a disabled license is refused (401)")
def disabled_license_refused(ctx: Context) -> None:
    disabled = _target(ctx).disabled_license
    if not disabled:
        raise SkipCheck("needs a disabled license key (--kosmos-disabled-license); the target cannot be asked for one")
    _license_refused(ctx, disabled, "disabled license")


@check("kosmos.other_tenant_refused", API, "a tenant or community license cannot write to another tenant (403)")
def other_tenant_refused(ctx: Context) -> None:
    if not _target(ctx).scoped:
        raise SkipCheck("the license is not tenant- or community-scoped (--kosmos-scoped-license)")
    client = _client(ctx)
    response = _put(
        ctx, _event_name(ctx, "other_tenant"), client.auth_headers(), client.encrypt({"type": "conformance"}),
        tenant=f"conformance-other-{ctx.run_id}",
    )  # fmt: skip
    expect_status(response, "another tenant", (403,))


@check("kosmos.event_without_type_refused", API, "an event without 'type' is refused (400) and not stored")
def event_without_type_refused(ctx: Context) -> None:
    client = _client(ctx)
    name = _event_name(ctx, "no_type")
    response = _put(ctx, name, client.auth_headers(), client.encrypt({"marker": ctx.run_id}))
    expect_status(response, "event without type", (400,))
    _expect_nothing_stored(ctx, name, "event without type")


@check("kosmos.malformed_headers_no_server_error", API, "malformed headers get a 4xx in the API's error format")
def malformed_headers_no_server_error(ctx: Context) -> None:
    client = _client(ctx)
    cases = {
        "non-base64 licensekey": {**client.auth_headers(), "licensekey": "%%% not base64 %%%"},
        "truncated requestid": {**client.auth_headers(), "requestid": "AAAA"},
        "off-curve publickey": {**client.auth_headers(), "publickey": base64.b64encode(b"\x01" * 64).decode()},
        "huge publickey": {**client.auth_headers(), "publickey": "A" * 6000},
    }
    for what, headers in cases.items():
        response = _put(ctx, _event_name(ctx, "malformed"), headers, {"type": "conformance"})
        expect_status(response, what, (400, 401))
        try:
            body = response.json()
        except json.JSONDecodeError as exc:
            raise CheckFailed(f"{what}: the refusal is not JSON", response) from exc
        if not {"statusCode", "error", "message"} <= set(body):
            raise CheckFailed(f"{what}: the refusal lacks statusCode/error/message: {body}", response)
