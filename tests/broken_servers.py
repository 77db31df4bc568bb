"""Deliberately broken variants of the mock, each breaking one rule, to show the conformance kit fails them.

Test-only: the production request path has no switch for any of these. Each variant patches the
one function where the rule is enforced (or rewrites an answer in an after-request hook), for as
long as ``broken_mock(name)`` is open; the in-process server runs in this process, so the
patches apply to its requests.

    with broken_mock("accept_replays") as server:
        report = run(provision(server.url))
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import jwt
import yaml
from flask import Request, Response, request

from eventclient import jws, kosmos_crypto, strict_json
from eventclient.exceptions import CryptoError, InvalidKeyEncoding, SignatureInvalid
from mockserver import MockServer
from mockserver import app as app_module
from mockserver import error_format as error_format_module
from mockserver import limits as limits_module
from mockserver import spec as spec_module
from mockserver.errors import RequestValidationError, UnsupportedMediaType
from mockserver.kosmos import auth as kosmos_auth
from mockserver.kosmos import errors as kosmos_errors
from mockserver.kosmos import events as kosmos_events
from mockserver.kosmos import routes as kosmos_routes
from mockserver.kosmos.store import KosmosStore, License
from mockserver.spec import OpenApiSpec
from mockserver.tenduke import feed as tenduke_feed
from mockserver.tenduke import routes as tenduke_routes
from mockserver.tenduke import store as tenduke_store
from mockserver.tenduke.store import FeedKey, TenDukeStore
from mockserver.vendor import Exchange, Pipeline

__all__ = ["BROKEN", "Broken", "broken_mock"]

SPEC_NAMES = ("kosmos-events", "tenduke-events", "admin")

Patches = Callable[[MockServer], list[Any]]


@dataclass(frozen=True)
class Broken:
    """One broken variant: what it gets wrong, and how."""

    description: str
    patches: Patches = lambda server: []
    hook: Callable[[Response], Response] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    spec_edit: Callable[[dict[str, Any]], None] | None = None
    """Edits the specs the mock reads (by name), as a developer editing ``openapi/`` would."""


def _patch(target: Any, name: str, value: Any) -> Patches:
    return lambda server: [mock.patch.object(target, name, value)]


LENIENT_JSON = SimpleNamespace(loads=json.loads, JsonRefused=ValueError)
"""Python's own json in place of strict_json: NaN, 1e400 and lone surrogates read, deep nesting a RecursionError."""


# --- originals the variants wrap --------------------------------------------------------------------
PARSE, DECRYPT, CHECK = kosmos_auth.parse_request_id, kosmos_auth._decrypt_header, OpenApiSpec.check
VALID, ALLOWS, REFUSAL = kosmos_auth.valid_license, License.allows, License.refusal
REMEMBER, BY_KEY, QUERY = KosmosStore.remember_request_id, KosmosStore.license_by_key, KosmosStore.query_events
SEEN, BUILD, LOAD_PRIVATE = KosmosStore.request_id_seen, kosmos_events.build_event, kosmos_crypto.load_private_key
VERIFY, CHECK_TIMES, CHECK_HEADER = jws.verify_jws, jws._check_times, jws._check_header
READ_PAGE, AUTHORIZE, EVENTS_OF = tenduke_routes.read_page, tenduke_routes._authorize, tenduke_routes._events_of
PAGE, KEY_RING, PUT_EVENTS = TenDukeStore.page, TenDukeStore.key_ring, TenDukeStore.put_events
INSTRUCTIONS, RESPOND = tenduke_feed.FeedPage.instructions, Pipeline._respond
QUERY_BOUND_ERRORS, SERVICE_OF = kosmos_routes.query_bound_errors, kosmos_routes._service
VALIDATE, CHECK_SECURITY, VERIFY_BEARER = OpenApiSpec.validate, spec_module._check_security, jws.verify_bearer
LOADS, ORDERED = strict_json.loads, jws._ordered


def _unsigned(token: str) -> tuple[dict[str, Any], bytes]:
    header_b64, payload_b64 = token.split(".")[:2]
    return json.loads(base64.urlsafe_b64decode(header_b64 + "==")), base64.urlsafe_b64decode(payload_b64 + "==")


def _verify_accepting(accept: Callable[[str, dict[str, Any], CryptoError], bool]) -> Patches:
    def verify(token: str, keys: Any) -> jws.VerifiedJws:
        try:
            return VERIFY(token, keys)
        except CryptoError as exc:
            header, payload = _unsigned(token)
            if accept(token, header, exc):
                return jws.VerifiedJws(header, payload, "broken")
            raise

    return _patch(jws, "verify_jws", verify)


def _hs256_by_public_pem(server: MockServer) -> list[Any]:
    def accept(token: str, header: dict[str, Any], exc: CryptoError) -> bool:
        signing_input, signature = token.rsplit(".", 1)
        for client in server.backend.tenduke.clients() if header.get("alg") == "HS256" else []:
            mac = hmac.new(client.public_key_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
            if base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == signature:
                return True
        return False

    return _verify_accepting(accept)(server)


def _es256_by_registered_ec_key(server: MockServer) -> list[Any]:
    def accept(token: str, header: dict[str, Any], exc: CryptoError) -> bool:
        for client in server.backend.tenduke.clients() if header.get("alg") == "ES256" else []:
            key = jws.load_public_key_any(client.public_key_pem)
            with contextlib.suppress(jwt.exceptions.InvalidTokenError, TypeError, ValueError):
                jwt.api_jws.decode_complete(token, key, algorithms=["ES256"])  # type: ignore[arg-type]
                return True
        return False

    return _verify_accepting(accept)(server)


def _trust_embedded_jwk(token: str, header: dict[str, Any], exc: CryptoError) -> bool:
    if "jwk" not in header:
        return False
    key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(header["jwk"]))
    with contextlib.suppress(jwt.exceptions.InvalidTokenError):
        jwt.api_jws.decode_complete(token, key, algorithms=["RS256"])  # type: ignore[arg-type]
        return True
    return False


CURRENT: ContextVar[Request] = ContextVar("broken_request")
"""The request being answered, for the variants (set around the vendor pipeline and Flask's hooks)."""
STASHED_LICENSE: ContextVar[str] = ContextVar("broken_license")


def _json_hook(path_prefix: str, change: Callable[[Any], Any]) -> Callable[[Response], Response]:
    def hook(response: Response) -> Response:
        if response.status_code == 200 and CURRENT.get().path.startswith(path_prefix) and response.get_data():
            response.set_data(json.dumps(change(json.loads(response.get_data()))))
        return response

    return hook


def _refusal_message_hook(path_prefix: str, status: int, message: str) -> Callable[[Response], Response]:
    def hook(response: Response) -> Response:
        if response.status_code == status and CURRENT.get().path.startswith(path_prefix):
            response.set_data(json.dumps({**json.loads(response.get_data()), "message": message}))
        return response

    return hook


def _send_head_with_body(response: Response, environ: Any, start_response: Any) -> Any:
    """The pipeline's send, writing the body whatever the method (a fast path that forgot HEAD)."""
    start_response(response.status, response.headers.to_wsgi_list())
    return [response.get_data()]


def _put_returns_body(response: Response) -> Response:
    if response.status_code == 200 and CURRENT.get().path == "/put":
        response.set_data(b'{"status":"stored"}')
    return response


def _future_from_accepted(bounds: dict[str, int], now_ms: int, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
    return QUERY_BOUND_ERRORS({**bounds, "from": min(bounds.get("from", now_ms), now_ms)} if "from" in bounds
                              else bounds, now_ms, *args, **kwargs)  # fmt: skip


def _healthz_of_events(x: Exchange) -> str:
    return "events" if x.operation.operation_id == "getReportsHealthz" else SERVICE_OF(x)


def _unknown_metric_is_zero(response: Response) -> Response:
    if (
        response.status_code == 400
        and CURRENT.get().path.endswith("/metrics")
        and b"doesn't exist" in response.get_data()
    ):
        response.status_code = 200
        response.set_data(b'{"count": 0}')
    return response


def _no_allow_on_405(response: Response) -> Response:
    if response.status_code == 405:
        response.headers.pop("Allow", None)
    return response


def _media_type_exact(self: OpenApiSpec, op: Any, req: Request, view_args: Any) -> Any:
    sent = req.headers.get("Content-Type")
    if op.bodies and sent and sent not in op.bodies:  # the raw header compared, parameters and case included
        raise UnsupportedMediaType(f"Content-Type {sent} is not supported")
    return VALIDATE(self, op, req, view_args)


def _bearer_case_sensitive(op: Any, headers: Any) -> None:
    value = headers.get("Authorization", "")
    if value.lower().startswith("bearer ") and not value.startswith("Bearer "):
        raise RequestValidationError("Authorization: a Bearer token is required", 401)
    CHECK_SECURITY(op, headers)


def _bearer_rs256_only(token: str, *args: Any, **kwargs: Any) -> Any:
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    if header.get("alg") != "RS256":
        raise SignatureInvalid(f"alg {header.get('alg')} is not taken for tokens")
    return VERIFY_BEARER(token, *args, **kwargs)


def _plain_license_exists(x: Exchange) -> None:
    license_key = x.checked.header.get("licensekey")
    if license_key is not None and x.backend.kosmos.license_by_key(license_key.strip()) is None:
        raise kosmos_errors.LicenseInvalid("unknown license key")


def _ts_in_ms_taken(text: str, now: float, window: float) -> dict[str, Any]:
    value = json.loads(text)
    if isinstance(value, dict) and isinstance(value.get("ts"), int | float) and value["ts"] > 1e11:
        value["ts"] = value["ts"] / 1000  # "helpfully" reads milliseconds as seconds
    return PARSE(json.dumps(value), now, window)


def _ids_case_insensitive(self: License, level: str, tenant: Any, community: Any) -> str | None:
    if tenant and self.tenant_id and str(tenant).lower() == self.tenant_id.lower():
        tenant = self.tenant_id
    if community and self.community_id and str(community).lower() == self.community_id.lower():
        community = self.community_id
    return ALLOWS(self, level, tenant, community)


def _kid_only(keys: Any, kid: Any) -> Any:
    keys = list(keys)
    named = [(key_id, key) for key_id, key in keys if key_id == kid]
    return iter(named) if named else ORDERED(keys, kid)  # a known kid: that key alone


def _status_hook(path_prefix: str, old: int, new: int) -> Callable[[Response], Response]:
    def hook(response: Response) -> Response:
        if response.status_code == old and CURRENT.get().path.startswith(path_prefix):
            response.status_code = new
        return response

    return hook


def _license_cached_per_caller() -> Patches:
    """A realistic optimisation bug: the decrypted license is remembered per caller key, not re-read."""
    seen: dict[bytes, str] = {}

    def decrypt(value: str, key: bytes, name: str) -> str:
        if name == "licensekey" and key in seen:
            return seen[key]
        text = DECRYPT(value, key, name)
        if name == "licensekey":
            seen[key] = text
        return text

    return _patch(kosmos_auth, "_decrypt_header", decrypt)


def _remember_per(part: Callable[[], str]) -> Patches:
    """Replay protection keyed by the request id and something else, so a replay elsewhere passes."""

    def seen(self: KosmosStore, rid: str, keep_after: float = 0) -> bool:
        return bool(SEEN(self, rid + part(), keep_after))

    def remember(self: KosmosStore, rid: str, expires: float, keep_after: float = 0, then: Any = None) -> bool:
        return bool(REMEMBER(self, rid + part(), expires, keep_after, then))

    return lambda server: [
        *_patch(KosmosStore, "request_id_seen", seen)(server),
        *_patch(KosmosStore, "remember_request_id", remember)(server),
    ]


def _stash_license(store: Any, license_key: str, now: float, seen: Any = None) -> License:
    STASHED_LICENSE.set(license_key)
    return VALID(store, license_key, now, seen)


def _query_ignoring(column: str) -> Patches:
    def query(self: KosmosStore, tenant_id: str, community_id: str, **kwargs: Any) -> Any:
        original_query = self.db.query
        with mock.patch.object(
            self.db,
            "query",
            lambda sql, params=(): original_query(sql.replace(f"{column} = ?", "? IS NOT NULL"), params),
        ):
            return QUERY(self, tenant_id, community_id, **kwargs)

    return _patch(KosmosStore, "query_events", query)


def _query_shifted(**change: Any) -> Patches:
    def query(self: KosmosStore, tenant_id: str, community_id: str, **kwargs: Any) -> Any:
        if "page_index" in change:
            kwargs["page_index"] += change["page_index"]
        if "end_ms" in change and kwargs.get("end_ms") is not None:
            kwargs["end_ms"] += change["end_ms"]
        page = QUERY(self, tenant_id, community_id, **kwargs)
        if change.get("total_unfiltered"):
            page = replace(page, total=QUERY(self, tenant_id, community_id, **{**kwargs, "event_name": None}).total)
        return page

    return _patch(KosmosStore, "query_events", query)


def _allows(rule: Callable[[License, str, Any, Any], str | None]) -> Patches:
    return _patch(
        License, "allows", lambda self, level, tenant=None, community=None: rule(self, level, tenant, community)
    )


def _service_may_administer(lic: License, level: str, tenant: Any, community: Any) -> str | None:
    return None if level == "system" and lic.auth_level == "service" else ALLOWS(lic, level, tenant, community)


def _tenant_needs_community(lic: License, level: str, tenant: Any, community: Any) -> str | None:
    if lic.auth_level == "tenant" and level != "system" and community != lic.community_id:
        return "tenant license used outside its community"
    return ALLOWS(lic, level, tenant, community)


def _community_not_checked(lic: License, level: str, tenant: Any, community: Any) -> str | None:
    return ALLOWS(replace(lic, auth_level="tenant") if lic.auth_level == "community" else lic, level, tenant, community)


def _ignore_tenant(lic: License, level: str, tenant: Any, community: Any) -> str | None:
    return None if level != "system" or lic.auth_level == "system" else "system only"


def _any_license(store: Any, license_key: str, now: float, seen: Any = None) -> License:
    found = store.license_by_key(license_key)
    if found is not None:
        return replace(found, disabled=False, expiry=None)
    return License("-", license_key, "license", "system", None, None, None, False, None, "-")


def _loose_license_key(self: KosmosStore, license_key: str) -> License | None:
    found = BY_KEY(self, license_key) or BY_KEY(self, license_key.strip())
    if found is None:
        found = next((r for r in self.licenses() if r.license_key.lower() == license_key.strip().lower()), None)
    return found


def _cached_forever(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` remembered per store and arguments, never invalidated: a stale cache."""
    remembered: dict[tuple[int, Any], Any] = {}

    def cached(self: Any, *args: Any) -> Any:
        if (id(self), args) not in remembered:
            remembered[id(self), args] = method(self, *args)
        return remembered[id(self), args]

    return cached


def _refusal_ignoring(what: str, hours: float = 0) -> Patches:
    def refusal(self: License, now: float) -> str | None:
        if what == "disabled":
            self = replace(self, disabled=False)
        if what == "expiry":
            self = replace(self, expiry=None)
        return REFUSAL(self, now - hours * 3600)

    return _patch(License, "refusal", refusal)


def _parse_loosely(fix: Callable[[dict[str, Any], float], dict[str, Any]]) -> Patches:
    def parse(text: str, now: float, window: float) -> dict[str, Any]:
        with contextlib.suppress(ValueError):
            value = json.loads(text)
            if isinstance(value, dict):
                text = json.dumps(fix(value, now))
        return PARSE(text, now, window)

    return _patch(kosmos_auth, "parse_request_id", parse)


def _default_appid(value: dict[str, Any], now: float) -> dict[str, Any]:
    return {"appid": "", **value}


def _ts_from_string(value: dict[str, Any], now: float) -> dict[str, Any]:
    return {**value, "ts": float(value["ts"])} if isinstance(value.get("ts"), str) else value


def _future_unbounded(value: dict[str, Any], now: float) -> dict[str, Any]:
    ts = value.get("ts")
    return {**value, "ts": now} if isinstance(ts, int | float) and not isinstance(ts, bool) and ts > now else value


def _event_ts_in_seconds(data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    event = BUILD(data, **kwargs)
    return {**event, "event_ts": event["event_ts"] // 1000}


def _reset_keeps_key(tx: Any, key: Any) -> bool:
    return tx.execute("SELECT 1 FROM kosmos_service_keys WHERE key_id = ?", (key.key_id,)).fetchone() is not None


def _only_32_byte_keys(text: str | bytes, curve: str = kosmos_crypto.CURVE_NAME) -> Any:
    if len(base64.b64decode(text)) != 32:
        raise InvalidKeyEncoding("private key must be 32 bytes")
    return LOAD_PRIVATE(text, curve)


def _refuse_hex_ivs(value: str, key: bytes, name: str) -> str:
    raw = base64.b64decode(value)
    if raw[:16].isascii() and all(chr(c) in "0123456789abcdef" for c in raw[:16]):
        raise kosmos_errors.HeaderNotDecryptable(name)
    return DECRYPT(value, key, name)


def _batch_not_atomic(x: Exchange, payload: bytes) -> list[dict[str, Any]]:
    value = json.loads(payload)
    kept = []
    for event in value if isinstance(value, list) else [value]:
        with contextlib.suppress(Exception):
            kept.extend(EVENTS_OF(x, json.dumps(event).encode()))
    return kept


def _crit_ignored(header: Any) -> dict[str, Any]:
    CHECK_HEADER({k: v for k, v in header.items() if k not in ("crit", "b64")} if isinstance(header, dict) else header)
    return dict(header)


def _event_id_overwritten(self: TenDukeStore, events: list[dict[str, Any]]) -> Any:
    return PUT_EVENTS(self, [{**e, "eventId": str(uuid.uuid4())} for e in events])


def _received_in_microseconds(self: TenDukeStore, events: list[dict[str, Any]]) -> Any:
    now = tenduke_store.time.time
    with mock.patch.object(tenduke_store.time, "time_ns", lambda: int(now() * 1e6)):
        return PUT_EVENTS(self, events)


def _skip_empty_batch(self: OpenApiSpec, pointer: str, value: Any, *args: Any, **kwargs: Any) -> Any:
    return None if value == [] else CHECK(self, pointer, value, *args, **kwargs)


def _counts_unknown(self: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    older, newer = INSTRUCTIONS(self)
    return {**older, "count": -1}, {**newer, "count": -1}


def _claim_prefix(x: Exchange, feed: FeedKey) -> None:
    try:
        AUTHORIZE(x, feed)
    except tenduke_routes.FeedForbidden:
        claims = json.loads(
            base64.urlsafe_b64decode(x.request.headers["Authorization"].split()[1].split(".")[1] + "==")
        )
        if not any(feed.name.startswith(name) and value is True for name, value in claims.items()):
            raise


def _authorize_any_feed(x: Exchange, feed: FeedKey) -> None:
    with contextlib.suppress(tenduke_routes.FeedForbidden):
        AUTHORIZE(x, feed)


def _object_feed_by_type(self: FeedKey) -> tuple[str, list[Any]]:
    if self.object_type is None:
        return "source_id = ?", [self.source_id]
    return "object_type = ?", [self.object_type]


BROKEN: dict[str, Broken] = {
    # 1Kosmos: envelope and headers
    "healthz_other_public_key": Broken(
        "1Kosmos: healthz reports a public key other than /publickeys",
        hook=_json_hook(
            "/events/healthz", lambda body: {**body, "publicKey": kosmos_crypto.generate_keypair().public_key}
        ),
    ),
    "service_directory_nested": Broken(
        "1Kosmos: /events/sd nests its URLs", hook=_json_hook("/events/sd", lambda body: {"services": body})
    ),
    "echo_request_id_as_sent": Broken(
        "1Kosmos: the request id is echoed as pretty, raw UTF-8 JSON, which is no valid header",
        _patch(kosmos_auth, "echo_text", lambda rid: json.dumps(rid, indent=2, ensure_ascii=False)),
    ),
    "no_requestid_echo": Broken(
        "1Kosmos: the decrypted request id is not echoed", hook=lambda r: (r.headers.pop("requestid", None), r)[1]
    ),
    "refuse_hex_iv": Broken(
        "1Kosmos: IVs of ASCII hex characters are refused", _patch(kosmos_auth, "_decrypt_header", _refuse_hex_ivs)
    ),
    "license_cached_per_caller": Broken(
        "1Kosmos: the license is decrypted once per caller key", _license_cached_per_caller()
    ),
    "undecryptable_is_401": Broken(
        "1Kosmos: a header that does not decrypt gets 401", _patch(kosmos_errors.HeaderNotDecryptable, "status", 401)
    ),
    "helper_only_32_byte_keys": Broken(
        "1Kosmos: ecdsa_helper refuses 31- and 33-byte private keys",
        _patch(kosmos_crypto, "load_private_key", _only_32_byte_keys),
    ),
    "empty_header_401": Broken(
        "1Kosmos: a missing header gets 401",
        hook=lambda r: _status_hook("/events/tenant", 400, 401)(r) if b"should not be empty" in r.get_data() else r,
    ),
    "server_error_on_malformed_header": Broken(
        "1Kosmos: a header that is not base64 gets a 500",
        _patch(kosmos_auth, "_decrypt_header", lambda v, k, n: DECRYPT(v, k, n) if "%" not in v else 1 / 0),
    ),
    "accept_event_without_type": Broken(
        "1Kosmos: an event without 'type' is stored",
        _patch(
            OpenApiSpec, "check", lambda self, p, *a, **k: None if p.endswith("/EventData") else CHECK(self, p, *a, **k)
        ),
    ),
    "unsupported_media_is_400": Broken(
        "1Kosmos: a body that is not JSON gets 400", hook=_status_hook("/events/", 415, 400)
    ),
    # 1Kosmos: request ids
    "appid_optional": Broken("1Kosmos: a request id without appid is taken", _parse_loosely(_default_appid)),
    "ts_string_accepted": Broken(
        "1Kosmos: a request id ts given as a string is taken", _parse_loosely(_ts_from_string)
    ),
    "accept_stale_request_ids": Broken(
        "1Kosmos: request ids of any age are accepted",
        _patch(kosmos_auth, "parse_request_id", lambda text, now, window: PARSE(text, now, 1e12)),
    ),
    "future_unbounded": Broken(
        "1Kosmos: request ids from any future time are accepted", _parse_loosely(_future_unbounded)
    ),
    "accept_replays": Broken("1Kosmos: a request id may be used again", _remember_per(lambda: str(uuid.uuid4()))),
    "replay_per_key_pair": Broken(
        "1Kosmos: replay protection is per caller key pair", _remember_per(lambda: CURRENT.get().headers["publickey"])
    ),
    "replay_per_license": Broken(
        "1Kosmos: replay protection is per license",
        lambda server: [
            *_remember_per(STASHED_LICENSE.get)(server),
            mock.patch.object(kosmos_auth, "valid_license", _stash_license),
        ],
    ),
    # 1Kosmos: licenses
    "skip_license_check": Broken(
        "1Kosmos: any license key is accepted", _patch(kosmos_auth, "valid_license", _any_license)
    ),
    "license_key_loose": Broken(
        "1Kosmos: license keys match ignoring case and spaces",
        _patch(KosmosStore, "license_by_key", _loose_license_key),
    ),
    "disabled_ignored": Broken("1Kosmos: disabled licenses work", _refusal_ignoring("disabled")),
    "license_cache_stale": Broken(
        "1Kosmos: a license once read is kept in memory, whatever happens to it",
        _patch(KosmosStore, "license_by_key", _cached_forever(BY_KEY)),
    ),
    "key_ring_cache_stale": Broken(
        "10Duke: the client keys once read are kept in memory, even deleted ones",
        _patch(TenDukeStore, "key_ring", _cached_forever(KEY_RING)),
    ),
    "expiry_ignored": Broken("1Kosmos: expired licenses work", _refusal_ignoring("expiry")),
    "expiry_two_hours_late": Broken(
        "1Kosmos: expiry read in the wrong time zone (2 h late)", _refusal_ignoring("", hours=2)
    ),
    "plain_license_unchecked": Broken(
        "1Kosmos: healthz and environment ignore the plain licensekey",
        _patch(kosmos_routes, "_check_plain_license", lambda x: None),
    ),
    # 1Kosmos: authorisation and isolation
    "unknown_service_key_400": Broken(
        "1Kosmos: resetting an unknown service key gets 400", _patch(kosmos_errors.ServiceKeyNotFound, "status", 400)
    ),
    "service_may_administer_keys": Broken(
        "1Kosmos: service licenses may list and reset service keys", _allows(_service_may_administer)
    ),
    "tenant_needs_community": Broken(
        "1Kosmos: tenant licenses are held to one community", _allows(_tenant_needs_community)
    ),
    "community_not_checked": Broken(
        "1Kosmos: community licenses reach every community of the tenant", _allows(_community_not_checked)
    ),
    "ignore_tenant": Broken("1Kosmos: a tenant or community license may act on any tenant", _allows(_ignore_tenant)),
    "query_ignores_tenant": Broken("1Kosmos: the query returns every tenant's events", _query_ignoring("tenant_id")),
    "query_ignores_community": Broken(
        "1Kosmos: the query returns every community's events", _query_ignoring("community_id")
    ),
    # 1Kosmos: stored events and the query
    "event_ts_in_seconds": Broken(
        "1Kosmos: event_ts is stored in seconds", _patch(kosmos_routes, "build_event", _event_ts_in_seconds)
    ),
    "page_index_from_one": Broken("1Kosmos: pIndex counts from 1", _query_shifted(page_index=-1)),
    "to_exclusive": Broken("1Kosmos: the query's `to` bound is exclusive", _query_shifted(end_ms=-1)),
    "total_ignores_event_name": Broken(
        "1Kosmos: total counts events of every name", _query_shifted(total_unfiltered=True)
    ),
    "query_bounds_unchecked": Broken(
        "1Kosmos: from older than 90 days and to before from are taken",
        _patch(kosmos_routes, "query_bound_errors", lambda *a, **k: []),
    ),
    "from_in_future_accepted": Broken(
        "1Kosmos reports: a from after now is taken (only the 90 days back are checked)",
        _patch(kosmos_routes, "query_bound_errors", _future_from_accepted),
    ),
    "events_query_says_or_equal": Broken(
        "1Kosmos reports: the events query refuses a to before from in the metrics query's words",
        _patch(kosmos_events, "TO_AFTER_FROM", kosmos_events.TO_NOT_BEFORE_FROM),
    ),
    # 1Kosmos: the reports service at its own root, and discovery
    "reports_healthz_events_key": Broken(
        "1Kosmos reports: /reports/healthz shows the events service's key, not its own",
        _patch(kosmos_routes, "_service", _healthz_of_events),
    ),
    "reports_refusals_in_events_format": Broken(
        "1Kosmos reports: refusals come in the events API's {statusCode, error, message}",
        _patch(kosmos_errors, "is_reports_path", lambda path: False),
    ),
    "reports_helper_garbles": Broken(
        "1Kosmos reports: /reports/ecdsa_helper/encrypt answers a token sealed with another key",
        hook=_json_hook("/reports/ecdsa_helper/encrypt", lambda body: {"data": kosmos_crypto.encrypt("x", bytes(32))}),
    ),
    "unknown_metric_is_zero": Broken(
        "1Kosmos reports: an unknown metricsName counts 0 instead of being refused",
        hook=_unknown_metric_is_zero,
    ),
    "environment_says_secp256k1_on_p256": Broken(
        "1Kosmos: a P-256 mock's /events/environment still says EC_CURVE_NAME secp256k1",
        hook=_json_hook("/events/environment", lambda body: {**body, "EC_CURVE_NAME": "secp256k1"}),
        config={"EC_CURVE_NAME": "prime256v1"},
    ),
    "metrics_count_as_text": Broken(
        "1Kosmos reports: metrics answers the count as a string",
        hook=_json_hook(
            "/reports/tenant/", lambda body: {**body, "count": str(body["count"])} if "count" in body else body
        ),
    ),
    "no_allow_on_405": Broken("HTTP: a 405 without an Allow header", hook=_no_allow_on_405),
    "media_type_exact": Broken(
        "HTTP: the Content-Type header compared as sent, so a charset parameter gets 415",
        _patch(OpenApiSpec, "validate", _media_type_exact),
    ),
    "chunked_unbounded": Broken(
        "HTTP: a chunked body is not bounded as it streams (the truncated body then fails as JSON: 400)",
        _patch(app_module, "bound_streamed_body", lambda request, config: None),
    ),
    "header_total_unbounded": Broken(
        "HTTP: header fields are limited one by one, not in total", config={"MAX_HEADERS_SIZE": 10**7}
    ),
    "bearer_case_sensitive": Broken(
        "10Duke: only 'Bearer' with a capital B is taken",
        _patch(spec_module, "_check_security", _bearer_case_sensitive),
    ),
    "tokens_rs256_only": Broken(
        "10Duke: bearer tokens are verified RS256 only", _patch(jws, "verify_bearer", _bearer_rs256_only)
    ),
    "plain_license_exists_only": Broken(
        "1Kosmos: a plain licensekey is checked to exist, not to be enabled and unexpired",
        _patch(kosmos_routes, "_check_plain_license", _plain_license_exists),
    ),
    "helper_decodes_leniently": Broken(
        "1Kosmos: ecdsa_helper decodes a non-UTF-8 plaintext with replacement characters and answers 200",
        _patch(
            kosmos_crypto,
            "decrypt_text",
            lambda token, key: kosmos_crypto.decrypt(token, key).decode("utf-8", "replace"),
        ),
    ),
    "forbidden_before_replay": Broken(
        "1Kosmos: a replay to a tenant the license does not reach gets 403, not 401",
        _patch(kosmos_routes, "replay_refusal", lambda store, caller: None),
    ),
    "ts_in_ms_taken": Broken(
        "1Kosmos: a request id ts in milliseconds is read as seconds",
        _patch(kosmos_auth, "parse_request_id", _ts_in_ms_taken),
    ),
    "ids_case_insensitive": Broken(
        "1Kosmos: tenant and community ids compared without case", _allows(_ids_case_insensitive)
    ),
    "nesting_off_by_one": Broken(
        "JSON: a document nested exactly 32 levels is refused (an off-by-one depth limit)",
        _patch(strict_json, "loads", lambda data, max_depth=31: LOADS(data, max_depth)),
    ),
    "kid_only_key_tried": Broken("10Duke: a known kid is the only key tried", _patch(jws, "_ordered", _kid_only)),
    "sd_without_licenses": Broken(
        "1Kosmos: /caas/sd lists no licenses service (the vendor's Node helper then drops the directory)",
        hook=_json_hook("/caas/sd", lambda body: {k: v for k, v in body.items() if k != "licenses"}),
    ),
    "community_info_default_only": Broken(
        "1Kosmos: community_info/fetch answers the default community whatever is asked",
        hook=_json_hook(
            "/api/r1/system/community_info/fetch",
            lambda body: {**body, "community": {**body["community"], "id": "default"}},
        ),
    ),
    "kosmos_event_json_lenient": Broken(
        "1Kosmos: event data is read with a lenient JSON parser", _patch(kosmos_events, "strict_json", LENIENT_JSON)
    ),
    "kosmos_request_id_json_lenient": Broken(
        "1Kosmos: the request id is read with a lenient JSON parser", _patch(kosmos_auth, "strict_json", LENIENT_JSON)
    ),
    "replay_by_spelling": Broken(
        "1Kosmos: a request id's uuid is remembered as spelled, so UPPER CASE is a new id",
        _patch(kosmos_auth, "canonical_uuid", lambda text: text),
    ),
    "reset_keeps_key": Broken(
        "1Kosmos: a service key reset answers a new key but keeps the old one",
        _patch(KosmosStore, "replace_service_key", staticmethod(_reset_keeps_key)),
    ),
    # 10Duke: /put
    "put_returns_body": Broken("10Duke: /put answers 200 with a JSON body", hook=_put_returns_body),
    "accept_alg_none": Broken(
        "10Duke: an unsigned JWS (alg none) is accepted",
        _verify_accepting(lambda t, h, e: str(h.get("alg")).lower() == "none"),
    ),
    "verify_hs256": Broken("10Duke: HS256 keyed with a registered public key PEM is accepted", _hs256_by_public_pem),
    "accept_any_rsa_key": Broken(
        "10Duke: a JWS no registered key verifies is accepted",
        _verify_accepting(lambda t, h, e: isinstance(e, SignatureInvalid)),
    ),
    "registered_weak_keys_used": Broken(
        "10Duke: registered keys of 1024 bits verify",
        _patch(tenduke_store, "_usable", lambda row: jws.load_rsa_public_key(row["public_key_pem"], 1024)),
    ),
    "registered_ec_keys_used": Broken("10Duke: ES256 by a registered EC key is accepted", _es256_by_registered_ec_key),
    "first_key_only": Broken(
        "10Duke: only the first registered key is tried",
        _patch(TenDukeStore, "key_ring", lambda self: KEY_RING(self)[:2]),
    ),
    "trust_embedded_jwk": Broken(
        "10Duke: a key in the JWS header's jwk is trusted", _verify_accepting(_trust_embedded_jwk)
    ),
    "crit_wrong_status": Broken(
        "10Duke: a JWS with an unknown crit gets 400", _patch(jws, "_check_header", _crit_ignored)
    ),
    "batch_not_atomic": Broken(
        "10Duke: the valid events of a refused batch are stored",
        _patch(tenduke_routes, "_events_of", _batch_not_atomic),
    ),
    "tenduke_payload_json_lenient": Broken(
        "10Duke: the /put payload is read with a lenient JSON parser",
        _patch(tenduke_routes, "strict_json", LENIENT_JSON),
    ),
    "tenduke_jws_json_lenient": Broken(
        "10Duke: JWS headers and bearer claims are read with a lenient JSON parser",
        _patch(jws, "strict_json", LENIENT_JSON),
    ),
    "event_id_overwritten": Broken(
        "10Duke: a sent eventId is replaced", _patch(TenDukeStore, "put_events", _event_id_overwritten)
    ),
    "event_received_microseconds": Broken(
        "10Duke: eventReceived in microseconds", _patch(TenDukeStore, "put_events", _received_in_microseconds)
    ),
    "empty_batch_accepted": Broken(
        "10Duke: an empty batch is accepted", _patch(OpenApiSpec, "check", _skip_empty_batch)
    ),
    "no_event_limit": Broken("10Duke: any number of events per /put", config={"MAX_EVENTS_PER_PUT": 10**6}),
    # 10Duke: /get
    "drop_newer_instruction": Broken(
        "10Duke: feed pages lack the 'newer' instruction",
        hook=_json_hook("/get/", lambda body: {**body, "objects": body["objects"][:-1]}),
    ),
    "paging_repeats_event": Broken(
        "10Duke: the 'after' bound is inclusive",
        _patch(
            tenduke_routes, "read_page", lambda *a, after, **k: READ_PAGE(*a, after=after - 1 if after else after, **k)
        ),
    ),
    "newest_ignored": Broken(
        "10Duke: newest=true is ignored",
        _patch(TenDukeStore, "page", lambda self, feed, **k: PAGE(self, feed, **{**k, "newest": False})),
    ),
    "counts_unknown": Broken(
        "10Duke: instruction counts are always -1", _patch(tenduke_feed.FeedPage, "instructions", _counts_unknown)
    ),
    "object_feed_by_type": Broken(
        "10Duke: an object feed holds every object of its type", _patch(FeedKey, "where", _object_feed_by_type)
    ),
    "ignore_feed_claim": Broken(
        "10Duke: a token for one feed reads any feed", _patch(tenduke_routes, "_authorize", _authorize_any_feed)
    ),
    "claim_prefix": Broken(
        "10Duke: a claim for a prefix of the feed name reads it", _patch(tenduke_routes, "_authorize", _claim_prefix)
    ),
    "accept_expired_tokens": Broken(
        "10Duke: expired bearer tokens are accepted",
        _patch(jws, "_check_times", lambda c, now, leeway: CHECK_TIMES(c, now, 1e12)),
    ),
    "wrong_feed_401": Broken(
        "10Duke: a token without the feed's claim gets 401", _patch(tenduke_routes.FeedForbidden, "status", 401)
    ),
    "bad_query_is_200": Broken("10Duke: bad query parameters are ignored (200)", hook=_status_hook("/get/", 400, 200)),
    "feed_uri_without_query": Broken(
        "10Duke: a page's uri is the feed's path without the query asked for (request.path, not full_path)",
        hook=_json_hook("/get/", lambda body: {**body, "uri": body["uri"].split("?")[0]} if "uri" in body else body),
    ),
    "license_message_generic": Broken(
        "1Kosmos: a bad license is refused 401 with a message of the server's own ('Unauthorized')",
        hook=_refusal_message_hook("/events/tenant/", 401, "Unauthorized"),
    ),
    "header_control_characters_passed": Broken(
        "HTTP: control characters in header values are passed on (the check of them forgotten)",
        patches=_patch(limits_module, "_CONTROL", re.compile("(?!)")),
    ),
    "tenduke_headers_unbounded": Broken(
        "10Duke: the feeds answer whatever the size of the headers (no 431 on that API)",
        hook=_status_hook("/get/", 431, 200),
    ),
    "body_limit_off_by_one": Broken(
        "HTTP: a body of exactly the limit refused (the size compared with >= instead of >)",
        config={"MAX_CONTENT_LENGTH": 1024 * 1024 - 1},
    ),
    "header_count_refusal_html": Broken(
        "HTTP: more than 100 header fields answered by the server's own HTML page, not the API's format",
        patches=_patch(error_format_module, "error_json", lambda path, status, message: f"<h1>{message}</h1>".encode()),
    ),
    "head_with_body": Broken(
        "HTTP: a HEAD answer carries the GET's body (the fast send path taken for HEAD too)",
        patches=_patch(app_module, "send", _send_head_with_body),
    ),
    # spec edits: a bound written one off in openapi/
    "tenant_ids_one_longer": Broken(
        "1Kosmos: tenant ids of 201 characters taken (the spec's maxLength written 201)",
        spec_edit=lambda specs: specs["kosmos-events"]["components"]["parameters"]["TenantId"]["schema"].update(
            maxLength=201
        ),
    ),
    "source_ids_one_shorter": Broken(
        "10Duke: a 500-character event source id refused in a feed's path (the spec's maxLength written 499)",
        spec_edit=lambda specs: specs["tenduke-events"]["paths"]["/get/{eventSourceId}"]["get"]["parameters"][0][
            "schema"
        ].update(maxLength=499),
    ),
}


@contextlib.contextmanager
def broken_mock(name: str, **kwargs: Any) -> Iterator[MockServer]:
    """A running in-process mock with the defect ``name`` (one of :data:`BROKEN`)."""
    if name not in BROKEN:
        raise ValueError(f"unknown broken variant {name!r}; known: {', '.join(sorted(BROKEN))}")
    variant = BROKEN[name]
    with contextlib.ExitStack() as stack:
        if variant.spec_edit:
            stack.enter_context(_edited_specs(variant.spec_edit))
        server = MockServer(config={**kwargs.pop("config", {}), **variant.config}, **kwargs)
        with _serving(server, variant):
            yield server


@contextlib.contextmanager
def _edited_specs(edit: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """The mock reads edited copies of its specs (the kit keeps its own, conformance.specs)."""
    documents = {name: yaml.safe_load((spec_module.SPEC_DIR / f"{name}.yaml").read_text()) for name in SPEC_NAMES}
    edit(documents)
    with tempfile.TemporaryDirectory() as folder:
        for name, document in documents.items():
            (Path(folder) / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
        spec_module.load_spec.cache_clear()
        try:
            with mock.patch.object(spec_module, "SPEC_DIR", Path(folder)):
                yield
        finally:
            spec_module.load_spec.cache_clear()


@contextlib.contextmanager
def _serving(server: MockServer, variant: Broken) -> Iterator[None]:
    hook = variant.hook or (lambda response: response)

    def respond(pipeline: Pipeline, exchange: Exchange, *args: Any) -> Response:
        token = CURRENT.set(exchange.request)
        try:
            return hook(RESPOND(pipeline, exchange, *args))  # before the journal, as an after-request hook
        finally:
            CURRENT.reset(token)

    def after_request(response: Response) -> Response:
        token = CURRENT.set(request._get_current_object())  # type: ignore[attr-defined]
        try:
            return hook(response)
        finally:
            CURRENT.reset(token)

    server.app.after_request(after_request)
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(Pipeline, "_respond", respond))
        for patch in variant.patches(server):
            stack.enter_context(patch)
        with server:
            yield
