"""The clients against the in-process mock: every endpoint of both APIs, refusals as typed exceptions."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from eventclient import KosmosApiError, KosmosClient, ServiceUnreachable, TenDukeApiError, TenDukeClient, kosmos_crypto
from mockserver import MockServer
from mockserver.kosmos.events import format_time
from tests.conftest import rsa_pair


@pytest.fixture
def srv(eventdouble: MockServer) -> MockServer:
    """The pytest plugin's fixture: a session-wide mock, reset before each test."""
    return eventdouble


# --- KosmosClient ---------------------------------------------------------------------------------


def test_kosmos_open_endpoints(srv: MockServer) -> None:
    client = KosmosClient(srv.url, srv.create_license()["licenseKey"])
    assert client.healthz()["publicKey"] == client.public_key() == client.service_public_key
    assert "syntheticheartbeatId" in client.healthz(synthetic_heartbeat="x")
    assert client.environment()["allowed_time_span"] == 60
    assert client.service_directory()["events"] == srv.kosmos_url


def test_kosmos_put_and_query(srv: MockServer) -> None:
    client = KosmosClient(srv.kosmos_url, srv.create_license("community", tenantId="t", communityId="c")["licenseKey"])
    base = (int(time.time()) - 86400) // 60 * 60  # a day ago: a query may reach 90 days back
    client.put_event("t", "c", "E_LOGIN", {"type": "login", "epoch_time": base})
    client.put_event("t", "c", "E_LOGOUT", {"type": "logout", "epoch_time": base + 60}, encrypt=False)
    assert [e["type"] for e in srv.events()] == ["login", "logout"]
    page = client.query_events("t", "c", event_name="E_LOGOUT")
    assert page["page"]["total"] == 1
    window = client.query_events("t", "c", start=format_time(base), end=format_time(base + 30))
    assert [e["type"] for e in window["data"]] == ["login"]


def test_kosmos_service_keys_and_reset(srv: MockServer) -> None:
    client = KosmosClient(srv.url, srv.create_license()["licenseKey"])
    [key] = client.service_keys()
    old = client.service_public_key
    new = client.reset_service_key(key["keyId"])
    assert new["publicKey"] != old
    client.put_event("t", "c", "E", {"type": "after-reset"})  # the client fetched the new key
    assert srv.events()[-1]["type"] == "after-reset"


def test_kosmos_ecdsa_helper_round_trip(srv: MockServer) -> None:
    client = KosmosClient(srv.url, "unused-license")
    alice, bob = kosmos_crypto.generate_keypair(), kosmos_crypto.generate_keypair()
    token = client.ecdsa_helper("encrypt", "secret", bob.public_key, alice.private_key)
    assert client.ecdsa_helper("decrypt", token, alice.public_key, bob.private_key) == "secret"


def test_kosmos_refusals_are_typed(srv: MockServer) -> None:
    tenant = KosmosClient(srv.url, srv.create_license("tenant", tenantId="a")["licenseKey"])
    with pytest.raises(KosmosApiError) as forbidden:
        tenant.put_event("b", "c", "E", {"type": "x"})
    assert forbidden.value.status == 403
    assert forbidden.value.error == "Forbidden"
    assert "tenant b" in forbidden.value.message
    with pytest.raises(KosmosApiError) as system_only:
        tenant.service_keys()
    assert system_only.value.status == 403

    with pytest.raises(KosmosApiError) as unknown:
        KosmosClient(srv.url, "no-such-license").put_event("a", "c", "E", {"type": "x"})
    assert (unknown.value.status, unknown.value.message) == (401, "Invalid or Unauthorized License")

    with pytest.raises(KosmosApiError) as invalid:
        tenant.put_event("a", "c", "E", {"no": "type"})
    assert invalid.value.status == 400
    assert "'type' is a required property" in invalid.value.message


def test_kosmos_stale_request_id_is_typed(srv: MockServer) -> None:
    client = KosmosClient(srv.url, srv.create_license()["licenseKey"])
    headers = client.auth_headers(client.request_id(ts=time.time() - 120))
    response = httpx.get(f"{srv.kosmos_url}/servicekeys", headers=headers)
    assert response.status_code == 401
    assert "old" in response.json()["message"]


def test_kosmos_client_over_wsgi_transport_without_a_server() -> None:
    """The same client runs against the app in-process, through httpx's WSGI transport."""
    from mockserver import create_app

    app = create_app({"DATABASE": ":memory:"})
    license_key = app.test_client().post("/__admin/licenses", json={"authLevel": "system"}).json["licenseKey"]
    client = KosmosClient("http://mock", license_key, transport=httpx.WSGITransport(app=app))
    client.put_event("t", "c", "E", {"type": "wsgi"})
    assert client.query_events("t", "c")["data"][0]["type"] == "wsgi"


def test_unreachable_server() -> None:
    with MockServer() as gone:
        url = gone.url
    with pytest.raises(ServiceUnreachable, match="cannot reach"):
        KosmosClient(url, "x").healthz()


# --- TenDukeClient --------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_tenduke_put_and_read(srv: MockServer, algorithm: str) -> None:
    pair = rsa_pair()
    srv.register_tenduke_client(pair.public_pem)
    client = TenDukeClient(srv.url, pair.private_pem, algorithm)
    client.put({"eventSourceId": "app", "eventType": "single"})
    client.put([{"eventSourceId": "app", "eventType": "batch", "n": i} for i in range(12)])
    events = list(client.read("app", page_size=5))
    assert [e["eventType"] for e in events] == ["single"] + ["batch"] * 12
    assert list(client.read("app", after=events[-2]["eventReceived"])) == events[-1:]
    assert list(client.read("app", before=events[2]["eventReceived"])) == events[:2]


def test_tenduke_object_feed_and_pages(srv: MockServer) -> None:
    pair = rsa_pair()
    srv.register_tenduke_client(pair.public_pem)
    client = TenDukeClient(srv.url, pair.private_pem + pair.public_pem)  # the `keys tenduke` file layout
    client.put([{"eventSourceId": "app", "eventType": "x", "eventObjectType": "user", "eventObjectId": "u 1"}])
    [event] = client.read("user/u 1")
    assert event["eventObjectId"] == "u 1"
    page = client.read_page("app", newest=True, page_size=1)
    assert page["count"] == 1


def test_tenduke_refusals_are_typed(srv: MockServer) -> None:
    pair = rsa_pair()
    client = TenDukeClient(srv.url, pair.private_pem)
    with pytest.raises(TenDukeApiError) as unknown:
        client.put({"eventSourceId": "app", "eventType": "x"})
    assert (unknown.value.status, unknown.value.error) == (401, "invalid_signature")
    srv.register_tenduke_client(pair.public_pem)
    with pytest.raises(TenDukeApiError) as invalid:
        client.put({"eventSourceId": "app"})
    assert invalid.value.status == 400
    assert "'eventType' is a required property" in invalid.value.message
    with pytest.raises(TenDukeApiError) as expired:
        client.http.request(
            "GET", f"{srv.url}/get/app", headers={"Authorization": f"Bearer {client.token('app', -10)}"}
        )
    assert (expired.value.status, expired.value.error) == (401, "invalid_token")


def test_tenduke_client_refuses_bad_setup() -> None:
    from eventclient.exceptions import InvalidKeyEncoding

    with pytest.raises(InvalidKeyEncoding):
        TenDukeClient("http://x", "not a key")
    with pytest.raises(ValueError, match="RS256"):
        TenDukeClient("http://x", rsa_pair().private_pem, "HS256")


# --- MockServer and the pytest plugin -----------------------------------------------------------


def test_two_mock_servers_at_once_have_separate_state() -> None:
    with MockServer() as a, MockServer() as b:
        assert a.url != b.url
        a.create_license(licenseKey="only-in-a-0001")
        assert [r["licenseKey"] for r in json.loads(httpx.get(f"{a.url}/__admin/licenses").text)] == ["only-in-a-0001"]
        assert httpx.get(f"{b.url}/__admin/licenses").json() == []


def test_stop_frees_the_port() -> None:
    import socket

    with MockServer() as srv:
        port = int(srv.url.rsplit(":", 1)[1])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # would raise if the port were still held


def test_url_before_start_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = MockServer().url


def test_plugin_fixture_gives_a_clean_server(eventdouble: MockServer) -> None:
    eventdouble.create_license()
    assert httpx.get(f"{eventdouble.url}/events/healthz").status_code == 200
    assert len(eventdouble.backend.kosmos.licenses()) == 1


def test_plugin_fixture_resets_between_tests(eventdouble: MockServer) -> None:
    assert eventdouble.backend.kosmos.licenses() == []


def test_table_renders_html_and_text() -> None:
    from eventclient.table import Table

    table = Table([{"a": 1, "b": "<x>"}, {"a": 2, "c": {"k": "v" * 50}}], width=10)
    assert table.columns == ["a", "b", "c"]
    html_text = table._repr_html_()
    assert "<th>a</th>" in html_text
    assert "&lt;x&gt;" in html_text
    assert "2 row(s)" in html_text
    text = repr(table).splitlines()
    assert text[0].split() == ["a", "b", "c"]
    assert text[2].endswith("…")


def test_kosmos_path_values_cannot_reach_another_tenant(srv: MockServer) -> None:
    """Issue 11, finding 13: every path value is percent-encoded, so a `/` or `?` in an id stays in it."""
    client = KosmosClient(srv.kosmos_url, srv.create_license()["licenseKey"])
    with pytest.raises(KosmosApiError):
        client.put_event("victim/community/vc/event/E?x=", "c", "E_LOGIN", {"type": "login"})
    assert srv.events() == []
    client.put_event("t 1", "c#1", "E LOGIN", {"type": "login"})
    assert [(e["tenant_id"], e["community_id"], e["eventName"]) for e in srv.events()] == [("t 1", "c#1", "E LOGIN")]
    assert client.query_events("t 1", "c#1")["page"]["total"] == 1
