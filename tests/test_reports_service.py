"""Issue 26: the 1Kosmos reports service at its own root (its key, helper, envelope, metrics) and discovery."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from eventclient import kosmos_crypto
from mockserver import create_app
from mockserver.kosmos.events import format_time
from tests.conftest import Clock, KosmosSigner

DAY = 86400
QUERY = "/reports/tenant/t1/community/c1/events"
METRICS = "/reports/tenant/t1/community/c1/metrics"

VENDOR_MESSAGES = {
    ("from", "Field should be from current time to minus 90 days"),
    ("to", "Date 'to' must be after or equal to 'from'"),
    ("to", "Date 'to' must be after 'from'"),
    ("licensekey", "This header should not be empty"),
    ("licensekey", "This header can't be decrypted"),
    ("metricsName", "This field should not be empty"),
    ("metricsName", "Metrics with that name doesn't exist"),
}
"""Every (param, message) of the reports service's refusals in the vendor's published Postman collection
(its Reports folder: Events, Metrics, Application Usage, Audit Log, Last Seen, Login Activity)."""


def errors_of(response: Any) -> list[tuple[str, str]]:
    body = response.json
    assert set(body) == {"errors"}, body
    assert all(set(error) == {"message", "param"} for error in body["errors"]), body
    return [(error["param"], error["message"]) for error in body["errors"]]


def post(client: FlaskClient, signer: KosmosSigner, license_key: str, path: str, **body: Any) -> Any:
    return client.post(path, headers=signer.headers(license_key, service="reports"), json=body)


# --- the reports service's own key ----------------------------------------------------------------


def test_the_reports_service_has_its_own_key_and_healthz_shows_it(client: FlaskClient) -> None:
    events, reports = (client.get(f"/{s}/publickeys").json["publicKey"] for s in ("events", "reports"))
    assert events != reports
    kosmos_crypto.load_public_key(reports)
    assert client.get("/reports/healthz").json["publicKey"] == reports
    assert client.get("/events/healthz").json["publicKey"] == events
    assert client.get("/reports/publickeys", headers={"X-TenantTag": "acme"}).status_code == 200


def test_each_service_refuses_headers_encrypted_to_the_other_ones_key(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    license_key = make_license("system")
    wrong = client.post(QUERY, headers=signer.headers(license_key, service="events"), json={})
    assert wrong.status_code == 400
    assert errors_of(wrong) == [("licensekey", "This header can't be decrypted")]
    assert post(client, signer, license_key, QUERY).status_code == 200
    event = {"data": signer.seal({"type": "event"})}
    put = client.put(
        "/events/tenant/t1/community/c1/event/E_X", headers=signer.headers(license_key, service="reports"), json=event
    )
    assert put.status_code == 400 and put.json["message"] == "licensekey: This header can't be decrypted"
    ok = client.put("/events/tenant/t1/community/c1/event/E_X", headers=signer.headers(license_key), json=event)
    assert ok.status_code == 200


def test_both_service_keys_survive_a_restart_and_a_reset_recreates_both(tmp_path: Any, clock: Clock) -> None:
    path = str(tmp_path / "keys.sqlite")
    first = create_app({"DATABASE": path, "CLOCK": clock}).test_client()
    keys = [first.get(f"/{s}/publickeys").json["publicKey"] for s in ("events", "reports")]
    again = create_app({"DATABASE": path, "CLOCK": clock}).test_client()
    assert [again.get(f"/{s}/publickeys").json["publicKey"] for s in ("events", "reports")] == keys
    assert again.post("/__admin/reset?all=true", json={}).status_code == 204
    after = [again.get(f"/{s}/publickeys").json["publicKey"] for s in ("events", "reports")]
    assert after[0] != keys[0] and after[1] != keys[1] and after[0] != after[1]


def test_the_events_key_listing_shows_only_the_events_services_keys(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    keys = client.get("/events/servicekeys", headers=signer.headers(make_license("system"))).json
    assert [k["publicKey"] for k in keys] == [client.get("/events/publickeys").json["publicKey"]]


@pytest.mark.parametrize("method", ["encrypt", "decrypt"])
def test_the_reports_helper_takes_the_postman_body(client: FlaskClient, method: str) -> None:
    mine, theirs = kosmos_crypto.generate_keypair(), kosmos_crypto.generate_keypair()
    key = kosmos_crypto.shared_key(mine.private_key, theirs.public_key)
    data = "plain" if method == "encrypt" else kosmos_crypto.encrypt("plain", key)
    body = {"method": method, "publicKey": theirs.public_key, "privateKey": mine.private_key, "dataStr": data}
    answer = client.post(f"/reports/ecdsa_helper/{method}", json=body)
    assert answer.status_code == 200
    result = answer.json["data"]
    assert (kosmos_crypto.decrypt_text(result, key) if method == "encrypt" else result) == "plain"
    refused = client.post(f"/reports/ecdsa_helper/{method}", json={**body, "privateKey": "not a key"})
    assert refused.status_code == 400 and errors_of(refused)[0][0] == "body"


# --- the envelope of every refusal ----------------------------------------------------------------------


def test_every_refusal_under_the_reports_service_is_in_its_envelope(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, clock: Clock
) -> None:
    system = make_license("system")
    good = signer.headers(system, service="reports")
    community = make_license("community", tenantId="t1", communityId="c1")
    disabled = make_license("community", tenantId="t1", communityId="c1", disabled=True)
    replayed_id = signer.request_id()
    assert client.post(QUERY, headers=signer.headers(system, replayed_id, "reports"), json={}).status_code == 200
    cases: dict[str, tuple[Any, int, str]] = {
        "no licensekey": (
            client.post(QUERY, headers={k: v for k, v in good.items() if k != "licensekey"}, json={}),
            400,
            "licensekey",
        ),
        "plain licensekey": (
            client.post(QUERY, headers={**good, "licensekey": "<API Key>"}, json={}),
            400,
            "licensekey",
        ),
        "bad publickey": (client.post(QUERY, headers={**good, "publickey": "AAAA"}, json={}), 400, "publickey"),
        "stale requestid": (
            client.post(
                QUERY, headers=signer.headers(system, signer.request_id(ts=clock.now - 3600), "reports"), json={}
            ),
            401,
            "requestid",
        ),
        "replayed requestid": (
            client.post(QUERY, headers=signer.headers(system, replayed_id, "reports"), json={}),
            401,
            "requestid",
        ),
        "unknown license": (post(client, signer, "no-such-license", QUERY), 401, "licensekey"),
        "disabled license": (post(client, signer, disabled, QUERY), 401, "licensekey"),
        "other community": (
            post(client, signer, community, "/reports/tenant/t1/community/c2/events"),
            403,
            "licensekey",
        ),
        "bad field": (post(client, signer, system, QUERY, pSize=0), 400, "pSize"),
        "unknown field": (post(client, signer, system, QUERY, pages=1), 400, "body"),
        "not JSON": (
            client.post(QUERY, headers={**good, "Content-Type": "application/json"}, data=b'{"pSize": '),
            400,
            "body",
        ),
        "text/plain": (client.post(QUERY, headers={**good, "Content-Type": "text/plain"}, data=b"{}"), 415, "body"),
        "over 1 MiB": (
            client.post(QUERY, headers=good, data=json.dumps({"x": "y" * 2**20}), content_type="application/json"),
            413,
            "body",
        ),
        "header too large": (client.post(QUERY, headers={**good, "X-Big": "x" * 9000}, json={}), 431, "headers"),
        "unknown route": (client.get("/reports/no-such-thing"), 404, "url"),
        "wrong method": (client.get(QUERY), 405, "url"),
    }
    for what, (response, status, param) in cases.items():
        assert response.status_code == status, (what, response.get_data(as_text=True))
        [(got_param, message)] = errors_of(response)
        assert got_param == param, (what, response.json)
        assert message and not message.startswith(f"{param}:"), (what, message)


# --- the vendor's words -------------------------------------------------------------------------------------


def test_every_message_of_the_vendors_collection_is_produced_word_for_word(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, clock: Clock
) -> None:
    system = make_license("system")
    good = signer.headers(system, service="reports")
    old, older = format_time(clock.now - 100 * DAY), format_time(clock.now - 101 * DAY)
    produced = set()
    for response in (
        post(client, signer, system, QUERY, **{"from": old, "to": older}),
        post(client, signer, system, METRICS, metricsName="M_C_LOGINS", **{"from": old, "to": older}),
        client.post(METRICS, headers={**good, "licensekey": ""}, json={"metricsName": "M_C_LOGINS"}),
        client.post(METRICS, headers={**good, "licensekey": "<API Key>"}, json={"metricsName": "M_C_LOGINS"}),
        post(client, signer, system, METRICS),
        post(client, signer, system, METRICS, metricsName="M_NO_SUCH"),
    ):
        assert response.status_code == 400, response.get_data(as_text=True)
        produced |= set(errors_of(response))
    assert produced == VENDOR_MESSAGES


def test_a_from_in_the_future_is_refused(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, clock: Clock
) -> None:
    system = make_license("system")
    soon = format_time(clock.now + 60)
    for path, body in ((QUERY, {}), (METRICS, {"metricsName": "M_C_LOGINS"})):
        response = post(client, signer, system, path, **body, **{"from": soon})
        assert errors_of(response) == [("from", "Field should be from current time to minus 90 days")]
        assert post(client, signer, system, path, **body, **{"from": format_time(clock.now - 60)}).status_code == 200


def test_equal_bounds_are_refused_by_the_events_query_and_taken_by_metrics(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, clock: Clock
) -> None:
    system = make_license("system")
    at = format_time(clock.now - DAY)
    response = post(client, signer, system, QUERY, **{"from": at, "to": at})
    assert errors_of(response) == [("to", "Date 'to' must be after 'from'")]
    assert post(client, signer, system, METRICS, metricsName="M_C_LOGINS", **{"from": at, "to": at}).json == {
        "count": 0
    }


def test_an_impossible_date_is_refused_naming_its_field(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    response = post(client, signer, make_license("system"), QUERY, **{"to": "2026-02-30 00:00:00.000"})
    assert response.status_code == 400 and errors_of(response)[0][0] == "to"


# --- metrics ----------------------------------------------------------------------------------------------


def test_metrics_count_the_events_their_names_list(
    client: FlaskClient, signer: KosmosSigner, make_license: Any, clock: Clock
) -> None:
    license_key = make_license("community", tenantId="t1", communityId="c1")
    for name, offset in (("E_LOGIN_SUCCEEDED", 3600), ("E_LOGIN_SUCCEEDED", 7200), ("E_LOGIN_FAILED", 3600)):
        assert signer.put_event(license_key, name=name, epoch_time=clock.now - offset).status_code == 200
    assert signer.put_event(license_key, community="c2", name="E_LOGIN_FAILED").status_code == 403
    count = lambda **body: post(client, signer, license_key, METRICS, **body).json["count"]  # noqa: E731
    assert count(metricsName="M_GT_SUCCESSFUL_AUTHENTICATIONS") == 2
    assert count(metricsName="M_C_LOGINS") == 3
    window = {"from": format_time(clock.now - 5400), "to": format_time(clock.now)}
    assert count(metricsName="M_C_LOGINS", **window) == 2
    response = post(client, signer, license_key, METRICS, metricsName="M_C_LOGINS")
    assert json.loads(response.headers["requestid"])["appid"] == "tests"


# --- discovery ----------------------------------------------------------------------------------------


HELPERS_NEED = {"licenses", "events", "reports", "sessions", "adminconsole", "authn", "authz", "user_management"}


@pytest.mark.parametrize("admin", [True, False], ids=["admin on", "admin off"])
def test_the_service_directory_lists_every_service_whether_or_not_the_admin_api_is_on(admin: bool) -> None:
    client = create_app({"DATABASE": ":memory:", "ADMIN_ENABLED": admin}).test_client()
    directory = client.get("/caas/sd", base_url="https://mock.example:8443").json
    assert set(directory) >= HELPERS_NEED
    assert directory["events"] == "https://mock.example:8443/events"
    assert directory["reports"] == "https://mock.example:8443/reports"
    assert client.get("/events/sd", base_url="https://mock.example:8443").json == directory
    assert ("admin" in directory) is admin


def test_community_info_names_tenants_and_communities_from_the_licenses(client: FlaskClient, make_license: Any) -> None:
    fetch = lambda **body: client.post("/api/r1/system/community_info/fetch", json=body)  # noqa: E731
    default = fetch(dns="127.0.0.1:8443", communityName="default").json
    assert (default["tenant"]["id"], default["community"]["id"], default["community"]["tenantid"]) == (
        "default",
        "default",
        "default",
    )
    assert default["community"]["publicKey"] == client.get("/events/publickeys").json["publicKey"]
    assert default["community"]["logo"] and "logo" not in fetch(dns="localhost", skipLogos=True).json["community"]
    make_license("community", tenantId="acme", communityId="main")
    assert fetch(dns="localhost:8443", communityName="main").json["tenant"]["id"] == "acme"  # the one tenant
    make_license("tenant", tenantId="other")
    assert fetch(dns="acme.localhost:8443", communityId="main").json["tenant"]["tenanttag"] == "acme"
    assert fetch(tenantId="acme", communityId="main").json["community"]["id"] == "main"
    assert fetch(tenantId="other", communityName="default").json["tenant"]["id"] == "other"
    for body in ({"tenantId": "nobody", "communityId": "main"}, {"tenantId": "acme", "communityId": "nothing"}):
        response = fetch(**body)
        assert response.status_code == 404 and response.json["statusCode"] == 404, body
    refused = fetch(communityName="main")
    assert refused.status_code == 400 and set(refused.json) == {"statusCode", "error", "message"}


def test_the_client_reads_the_reports_envelope_into_its_error() -> None:
    import httpx

    from eventclient import KosmosApiError, KosmosClient

    app = create_app({"DATABASE": ":memory:"})
    license_key = app.test_client().post("/__admin/licenses", json={"authLevel": "system"}).json["licenseKey"]
    client = KosmosClient("http://mock", license_key, transport=httpx.WSGITransport(app=app))
    with client, pytest.raises(KosmosApiError) as refused:
        client.metrics("t", "c", "M_NO_SUCH")
    assert refused.value.status == 400
    assert refused.value.message == "metricsName: Metrics with that name doesn't exist"
    assert refused.value.body == {
        "errors": [{"message": "Metrics with that name doesn't exist", "param": "metricsName"}]
    }


def test_the_metric_names_the_spec_takes_are_the_ones_it_says_what_they_count() -> None:
    from mockserver.spec import load_spec

    spec = load_spec("kosmos-events")
    names = spec.resolve_pointer("/components/schemas/MetricsQuery/properties/metricsName")["enum"]
    assert set(names) == set(spec.operations["queryMetrics"].extension("x-metrics"))
