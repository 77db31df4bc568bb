"""Deliberately broken variants of the mock, to show that the conformance kit fails them.

Test-only: the production request path has no switch for any of these. Each variant patches the
one function where the real rule is enforced, for as long as ``broken_mock(name)`` is open (the
in-process server runs in the same process, so the patches apply to its requests).

    with broken_mock("accept_replays") as server:
        report = run(provision(server.url))
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from flask import Response, request

from eventclient import jws
from eventclient.exceptions import CryptoError, SignatureInvalid
from mockserver import MockServer
from mockserver.kosmos import auth as kosmos_auth
from mockserver.kosmos.store import License
from mockserver.spec import OpenApiSpec
from mockserver.tenduke import routes as tenduke_routes

__all__ = ["BROKEN", "broken_mock"]

BROKEN = {
    "skip_license_check": "1Kosmos: any license key is accepted, unknown or disabled",
    "accept_stale_request_ids": "1Kosmos: request ids of any age are accepted",
    "accept_replays": "1Kosmos: a request id may be used again",
    "ignore_tenant": "1Kosmos: a tenant or community license may act on any tenant",
    "accept_event_without_type": "1Kosmos: an event without 'type' is stored",
    "server_error_on_malformed_header": "1Kosmos: a header that is not base64 gets a 500",
    "accept_alg_none": "10Duke: an unsigned JWS (alg none) is accepted on /put",
    "verify_hs256": "10Duke: HS256 keyed with a registered public key PEM is accepted",
    "accept_any_rsa_key": "10Duke: a JWS no registered key verifies is accepted anyway",
    "put_returns_body": "10Duke: /put answers 200 with a JSON body instead of an empty one",
    "drop_newer_instruction": "10Duke: feed pages lack the 'newer' instruction",
    "paging_repeats_event": "10Duke: the 'after' bound is inclusive, so paging repeats an event",
    "accept_expired_tokens": "10Duke: expired bearer tokens are accepted",
    "ignore_feed_claim": "10Duke: a bearer token for one feed reads any feed",
}


def _any_license(store: Any, license_key: str, now: float) -> License:
    found = store.license_by_key(license_key)
    if found is not None:
        return License(**{**found.__dict__, "disabled": False, "expiry": None})
    return License("-", license_key, "license", "system", None, None, None, False, None, "-")


def _unsigned_payload(token: str) -> tuple[dict[str, Any], bytes]:
    header_b64, payload_b64 = token.split(".")[:2]
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    return header, base64.urlsafe_b64decode(payload_b64 + "==")


def _verify_jws_accepting(accept: Callable[[str, dict[str, Any], CryptoError], bool]) -> Callable[..., Any]:
    original = jws.verify_jws

    def verify(token: str, keys: Any) -> jws.VerifiedJws:
        try:
            return original(token, keys)
        except CryptoError as exc:
            header, payload = _unsigned_payload(token)
            if accept(token, header, exc):
                return jws.VerifiedJws(header, payload, "broken")
            raise

    return verify


def _hs256_by_public_pem(server: MockServer) -> Callable[[str, dict[str, Any], CryptoError], bool]:
    def accept(token: str, header: dict[str, Any], exc: CryptoError) -> bool:
        if header.get("alg") != "HS256":
            return False
        signing_input, signature = token.rsplit(".", 1)
        for client in server.backend.tenduke.clients():
            mac = hmac.new(client.public_key_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
            if base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == signature:
                return True
        return False

    return accept


def _authorize_any_feed(feed: Any) -> None:
    """The token is verified, but its feed claims are not looked at."""
    with contextlib.suppress(tenduke_routes.FeedForbidden):
        AUTHORIZE(feed)


AUTHORIZE = tenduke_routes._authorize


def _patches(name: str, server: MockServer) -> list[Any]:
    parse, check_times, read_page = kosmos_auth.parse_request_id, jws._check_times, tenduke_routes.read_page
    spec_check, decrypt = OpenApiSpec.check, kosmos_auth._decrypt_header
    table: dict[str, list[Any]] = {
        "skip_license_check": [mock.patch.object(kosmos_auth, "valid_license", _any_license)],
        "accept_stale_request_ids": [
            mock.patch.object(kosmos_auth, "parse_request_id", lambda text, now, window: parse(text, now, 1e12))
        ],
        "accept_replays": [mock.patch("mockserver.kosmos.store.KosmosStore.remember_request_id", return_value=True)],
        "ignore_tenant": [
            mock.patch.object(
                License,
                "allows",
                lambda self, level, *a: None if level != "system" or self.auth_level == "system" else "x",
            )
        ],
        "accept_event_without_type": [
            mock.patch.object(
                OpenApiSpec,
                "check",
                lambda self, pointer, *a, **k: (
                    None if pointer.endswith("/EventData") else spec_check(self, pointer, *a, **k)
                ),
            )
        ],
        "server_error_on_malformed_header": [
            mock.patch.object(
                kosmos_auth,
                "_decrypt_header",
                lambda value, key, header: (
                    decrypt(value, key, header) if value.isascii() and "%" not in value else 1 / 0
                ),
            )
        ],
        "accept_alg_none": [
            mock.patch.object(
                jws, "verify_jws", _verify_jws_accepting(lambda t, h, e: str(h.get("alg")).lower() == "none")
            )
        ],
        "verify_hs256": [mock.patch.object(jws, "verify_jws", _verify_jws_accepting(_hs256_by_public_pem(server)))],
        "accept_any_rsa_key": [
            mock.patch.object(jws, "verify_jws", _verify_jws_accepting(lambda t, h, e: isinstance(e, SignatureInvalid)))
        ],
        "paging_repeats_event": [
            mock.patch.object(
                tenduke_routes,
                "read_page",
                lambda *a, after, **k: read_page(*a, after=after - 1 if after else after, **k),
            )
        ],
        "accept_expired_tokens": [
            mock.patch.object(jws, "_check_times", lambda claims, now, leeway: check_times(claims, now, 1e12))
        ],
        "ignore_feed_claim": [mock.patch.object(tenduke_routes, "_authorize", _authorize_any_feed)],
    }
    return table.get(name, [])


def _after_request(name: str) -> Callable[[Response], Response] | None:
    """Variants that change the answer rather than a rule: applied as an after-request hook of the app."""

    def put_returns_body(response: Response) -> Response:
        if response.status_code == 200 and request.path == "/put":
            response.set_data(b'{"status":"stored"}')
        return response

    def drop_newer_instruction(response: Response) -> Response:
        if response.status_code == 200 and request.path.startswith("/get/"):
            body = json.loads(response.get_data())
            body["objects"] = body["objects"][:-1]
            response.set_data(json.dumps(body))
        return response

    return {"put_returns_body": put_returns_body, "drop_newer_instruction": drop_newer_instruction}.get(name)


@contextlib.contextmanager
def broken_mock(name: str, **kwargs: Any) -> Iterator[MockServer]:
    """A running in-process mock with the defect ``name`` (one of :data:`BROKEN`)."""
    if name not in BROKEN:
        raise ValueError(f"unknown broken variant {name!r}; known: {', '.join(sorted(BROKEN))}")
    server = MockServer(**kwargs)
    if hook := _after_request(name):
        server.app.after_request(hook)
    with contextlib.ExitStack() as stack:
        for patch in _patches(name, server):
            stack.enter_context(patch)
        with server:
            yield server
