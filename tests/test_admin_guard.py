"""Issue 11 findings 2 and 3: the admin API is not open to the network, to DNS rebinding or to
cross-site requests, and CORS for the vendor APIs is an explicit option. Each refusal has its
accepted twin, and a refused write leaves the state as it was."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from mockserver import create_app
from tests.servers import start_server, stop_server

LICENSE = {"authLevel": "system", "tag": "guard"}


def licenses(client: FlaskClient, **headers: str) -> list[dict[str, Any]]:
    response = client.get("/__admin/licenses", headers=headers)
    assert response.status_code == 200, response.json
    return list(response.json)


def assert_admin_refusal(response: Any, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.json) == {"error", "message"}


# --- finding 3: Host, Origin, JSON-only writes (no token: a loopback mock) ------------------------------


@pytest.mark.parametrize("host", ["rebind.attacker.example", "rebind.attacker.example:8080", "10.0.0.7:8080"])
def test_a_foreign_host_cannot_reach_the_admin_api(client: FlaskClient, host: str) -> None:
    assert_admin_refusal(client.get("/__admin/licenses", headers={"Host": host}), 403)
    assert_admin_refusal(client.post("/__admin/licenses", json=LICENSE, headers={"Host": host}), 403)
    assert licenses(client) == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8080", "[::1]:9000", "LOCALHOST:1"])
def test_loopback_hosts_reach_the_admin_api(client: FlaskClient, host: str) -> None:
    assert client.post("/__admin/licenses", json=LICENSE, headers={"Host": host}).status_code == 201
    assert len(licenses(client, Host=host)) == 1


def test_the_vendor_apis_answer_any_host(client: FlaskClient) -> None:
    assert client.get("/events/healthz", headers={"Host": "mock.example:8080"}).status_code == 200


def test_a_form_post_from_another_site_cannot_reset(client: FlaskClient) -> None:
    assert client.post("/__admin/licenses", json=LICENSE).status_code == 201
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}
    assert_admin_refusal(client.post("/__admin/reset?all=true", data="x=1", headers=form), 403)
    no_origin = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_admin_refusal(client.post("/__admin/reset?all=true", data="x=1", headers=no_origin), 415)
    assert_admin_refusal(client.post("/__admin/reset?all=true"), 415)  # no content type: what a fetch() sends
    assert len(licenses(client)) == 1
    assert client.post("/__admin/reset?all=true", json=None, content_type="application/json").status_code == 204
    assert licenses(client) == []


def test_a_write_without_a_json_content_type_is_refused(client: FlaskClient) -> None:
    body = '{"authLevel": "system"}'
    assert_admin_refusal(client.post("/__admin/licenses", data=body), 415)
    assert_admin_refusal(client.post("/__admin/licenses", data=body, content_type="text/plain"), 415)
    assert licenses(client) == []
    assert client.post("/__admin/licenses", data=body, content_type="application/json").status_code == 201


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:9999", "null"])
def test_a_foreign_origin_is_refused(client: FlaskClient, origin: str) -> None:
    assert_admin_refusal(client.get("/__admin/licenses", headers={"Origin": origin}), 403)
    assert_admin_refusal(client.post("/__admin/licenses", json=LICENSE, headers={"Origin": origin}), 403)
    assert licenses(client) == []


def test_the_same_origin_is_served(client: FlaskClient) -> None:
    response = client.post("/__admin/licenses", json=LICENSE, headers={"Origin": "http://localhost"})
    assert response.status_code == 201


# --- finding 2: a token ---------------------------------------------------------------------------------


@pytest.fixture
def guarded() -> FlaskClient:
    return create_app({"DATABASE": ":memory:", "ADMIN_TOKEN": "s3cret-token"}).test_client()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic s3cret-token", "Bearer s3cret-token-and-more"])
def test_without_the_token_the_admin_api_is_closed(guarded: FlaskClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    assert_admin_refusal(guarded.get("/__admin/licenses", headers=headers), 401)
    assert_admin_refusal(guarded.post("/__admin/licenses", json=LICENSE, headers=headers), 401)
    assert_admin_refusal(guarded.post("/__admin/reset?all=true", json={}, headers=headers), 401)
    assert licenses(guarded, Authorization="Bearer s3cret-token") == []


def test_with_the_token_any_host_reaches_the_admin_api(guarded: FlaskClient) -> None:
    headers = {"Authorization": "Bearer s3cret-token", "Host": "mock.lan:8080"}
    assert guarded.post("/__admin/licenses", json=LICENSE, headers=headers).status_code == 201
    assert len(licenses(guarded, **headers)) == 1


# --- CORS for the vendor APIs ---------------------------------------------------------------------------


def preflight(client: FlaskClient, origin: str, path: str = "/events/healthz") -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "publickey, licensekey, requestid, content-type",
        },
    )


def test_cors_is_off_by_default(client: FlaskClient) -> None:
    response = preflight(client, "https://app.example")
    assert response.status_code == 403
    assert "--cors" in response.json["message"]
    answer = client.get("/events/healthz", headers={"Origin": "https://app.example"})
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_cors_for_an_allowed_origin() -> None:
    client = create_app({"DATABASE": ":memory:", "CORS_ORIGINS": ["https://app.example"]}).test_client()
    response = preflight(client, "https://app.example", "/events/tenant/t/community/c/event/E")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert "requestid" in response.headers["Access-Control-Allow-Headers"]
    answer = client.get("/events/healthz", headers={"Origin": "https://app.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "requestid" in answer.headers["Access-Control-Expose-Headers"]
    assert preflight(client, "https://other.example").status_code == 403
    assert (
        "Access-Control-Allow-Origin" not in client.get("/get/f", headers={"Origin": "https://other.example"}).headers
    )
    assert_admin_refusal(client.get("/__admin/licenses", headers={"Origin": "https://app.example"}), 403)


# --- the command line -----------------------------------------------------------------------------------


def _banner_token(banner: str) -> str:
    match = re.search(r"Authorization: Bearer (\S+)", banner)
    assert match, banner
    return match.group(1)


def test_serve_on_a_non_loopback_address_requires_a_printed_token(tmp_path: Path) -> None:
    process, url, banner = start_server("--host", "0.0.0.0", "--db", str(tmp_path / "m.sqlite"))
    try:
        assert "admin API needs a token" in banner
        token = _banner_token(banner)
        base = url.replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(f"{base}/__admin/licenses").status_code == 401
        assert httpx.post(f"{base}/__admin/licenses", json=LICENSE).status_code == 401
        good = httpx.get(f"{base}/__admin/licenses", headers={"Authorization": f"Bearer {token}"})
        assert good.status_code == 200 and len(good.json()) == 1  # the development license only
    finally:
        stop_server(process)


def test_serve_with_a_chosen_token_and_with_an_explicit_opt_out(tmp_path: Path) -> None:
    process, url, banner = start_server(
        "--host", "0.0.0.0", "--db", str(tmp_path / "m.sqlite"), "--admin-token", "my-own-token-123"
    )
    try:
        base = url.replace("0.0.0.0", "127.0.0.1")
        assert "my-own-token-123" not in banner  # the user knows it; it is not printed
        assert httpx.get(f"{base}/__admin/licenses", headers={"Authorization": "Bearer my-own-token-123"}).is_success
    finally:
        stop_server(process)
    process, url, banner = start_server("--host", "0.0.0.0", "--db", str(tmp_path / "m.sqlite"), "--admin-open")
    try:
        assert "WARNING" in banner and "without a token" in banner
        assert httpx.get(url.replace("0.0.0.0", "127.0.0.1") + "/__admin/licenses").status_code == 200
    finally:
        stop_server(process)


def test_the_kit_provisions_a_mock_that_has_a_token(tmp_path: Path) -> None:
    from conformance.core import ConformanceError
    from conformance.mock_target import provision

    process, url, _ = start_server("--db", str(tmp_path / "m.sqlite"), "--admin-token", "kit-token-456")
    try:
        with pytest.raises(ConformanceError, match="401"):
            provision(url)
        target = provision(url, admin_token="kit-token-456")
        assert target.kosmos is not None and set(target.kosmos.licenses) >= {"system", "community", "disabled"}
    finally:
        stop_server(process)


@pytest.mark.parametrize(
    "path, body",
    [
        ("/__admin/faults", {"path": "^/put$", "status": 503}),
        ("/__admin/webhooks", {"url": "http://127.0.0.1:9/hook", "secret": "s"}),
    ],
)
def test_fault_rules_and_webhooks_need_the_token(guarded: FlaskClient, path: str, body: dict[str, Any]) -> None:
    """Issue 14's admin writes are guarded like the rest: refused and nothing kept, then accepted."""
    token = {"Authorization": "Bearer s3cret-token"}
    assert_admin_refusal(guarded.post(path, json=body, headers={"Authorization": "Bearer wrong"}), 401)
    assert_admin_refusal(guarded.post(path, json=body, headers={**token, "Origin": "http://evil.example"}), 403)
    assert guarded.get(path, headers=token).json == []
    assert_admin_refusal(guarded.get("/__admin/stream?maxSeconds=0"), 401)
    assert guarded.post(path, json=body, headers=token).status_code == 201
    assert len(guarded.get(path, headers=token).json) == 1
