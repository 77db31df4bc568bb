"""Limits for every API: header size (431) and request rate per license or client key (429)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mockserver import create_app
from tests.conftest import Clock, KosmosSigner, TenDukeSigner, stored_events, tenduke_events

EVENT_URL = "/events/tenant/t1/community/c1/event/E_LOGIN_ATTEMPT"


def kosmos_refusal(response: Any, status: int, phrase: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert set(body) == {"statusCode", "error", "message"}
    assert (body["statusCode"], body["error"]) == (status, phrase)
    return dict(body)


def tenduke_refusal(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.json) == {"error", "message"}
    assert response.json["error"] == code
    return dict(response.json)


# --- header size --------------------------------------------------------------------------------


def test_a_header_field_over_the_limit_gets_431_in_the_kosmos_format(
    client: FlaskClient, signer: KosmosSigner, make_license: Any
) -> None:
    headers = signer.headers(make_license("system"))
    headers["publickey"] = "A" * 9000
    body = kosmos_refusal(client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "x"})}),
                          431, "Request Header Fields Too Large")  # fmt: skip
    assert "publickey" in body["message"]
    assert stored_events(client) == []


def test_a_header_field_at_the_limit_is_accepted(client: FlaskClient, signer: KosmosSigner, make_license: Any) -> None:
    headers = {**signer.headers(make_license("system")), "X-Padding": "p" * (8192 - len("X-Padding"))}
    response = client.put(EVENT_URL, headers=headers, json={"data": signer.seal({"type": "x"})})
    assert response.status_code == 200, response.json
    assert len(stored_events(client)) == 1


def test_headers_over_the_total_limit_get_431_in_the_tenduke_format(
    client: FlaskClient, tenduke: TenDukeSigner
) -> None:
    padding = {f"X-Pad-{i}": "p" * 4000 for i in range(9)}  # each under the field limit, 36 kB together
    response = client.get("/get/app", headers={"Authorization": f"Bearer {tenduke.token()}", **padding})
    assert "together" in tenduke_refusal(response, 431, "request_header_fields_too_large")["message"]
    del padding["X-Pad-0"], padding["X-Pad-1"]
    response = client.get("/get/app", headers={"Authorization": f"Bearer {tenduke.token()}", **padding})
    assert response.status_code == 200


def test_header_limits_are_configurable(clock: Clock) -> None:
    client = create_app({"DATABASE": ":memory:", "CLOCK": clock, "MAX_HEADER_LENGTH": 100}).test_client()
    assert client.get("/events/healthz", headers={"X-Note": "n" * 50}).status_code == 200
    kosmos_refusal(client.get("/events/healthz", headers={"X-Note": "n" * 200}), 431, "Request Header Fields Too Large")


# --- request rate -------------------------------------------------------------------------------


class TestRateLimit:
    """With a limit of 3 requests per 60 s."""

    @pytest.fixture
    def app(self, clock: Clock) -> Flask:
        """The app with a rate limit of 3 requests per 60 s."""
        config = {"DATABASE": ":memory:", "CLOCK": clock, "RATE_LIMIT": 3, "RATE_LIMIT_WINDOW": 60}
        return create_app(config)

    def test_rate_limit_refuses_a_license_over_it_with_429_and_retry_after(
        self, clock: Clock, make_license: Any, signer: KosmosSigner
    ) -> None:
        clock.now = 1_800_000_000.0  # 0 s into a window
        license_key = make_license("system")
        for _ in range(3):
            assert signer.put_event(license_key).status_code == 200
        refused = signer.put_event(license_key)
        body = kosmos_refusal(refused, 429, "Too Many Requests")
        assert "3 requests per 60 s" in body["message"]
        assert refused.headers["Retry-After"] == "60"
        assert len(stored_events(signer.client)) == 3

        other = make_license("system")
        assert signer.put_event(other).status_code == 200, "another license has its own budget"

        clock.now += 45
        assert signer.put_event(license_key).headers["Retry-After"] == "15"
        clock.now += 15  # the next window
        assert signer.put_event(license_key).status_code == 200
        assert len(stored_events(signer.client)) == 5

    def test_rate_limit_counts_plain_license_keys_too(self, client: FlaskClient, make_license: Any) -> None:
        license_key = make_license("system")
        statuses = [client.get("/events/healthz", headers={"licensekey": license_key}).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert client.get("/events/healthz").status_code == 200, "no license, nothing to count"

    def test_rate_limit_per_tenduke_client_key(self, client: FlaskClient, clock: Clock) -> None:
        clock.now = 1_800_000_000.0
        first, second = TenDukeSigner(client, clock, slot=0), TenDukeSigner(client, clock, slot=1)
        event = {"eventSourceId": "app", "eventType": "t"}
        assert [first.put(event).status_code for _ in range(3)] == [200, 200, 200]
        refused = first.put(event)
        tenduke_refusal(refused, 429, "rate_limited")
        assert refused.headers["Retry-After"] == "60"
        tenduke_refusal(first.get("/get/app"), 429, "rate_limited")
        assert len(tenduke_events(client)) == 3
        assert second.put(event).status_code == 200
        assert second.get("/get/app").status_code == 200


def test_rate_limit_is_shared_by_processes_on_one_database(tmp_path: Path, clock: Clock) -> None:
    """Two apps on one file stand for two worker processes: they count together."""
    config = {"DATABASE": str(tmp_path / "shared.sqlite"), "CLOCK": clock, "RATE_LIMIT": 3, "RATE_LIMIT_WINDOW": 60}
    workers = [create_app(config).test_client(), create_app(config).test_client()]
    license_key = workers[0].post("/__admin/licenses", json={"authLevel": "system"}).json["licenseKey"]
    statuses = [workers[i % 2].get("/events/healthz", headers={"licensekey": license_key}).status_code
                for i in range(5)]  # fmt: skip
    assert statuses == [200, 200, 200, 429, 429]


def test_no_rate_limit_by_default(clock: Clock) -> None:
    client = create_app({"DATABASE": ":memory:", "CLOCK": clock}).test_client()
    license_key = client.post("/__admin/licenses", json={"authLevel": "system"}).json["licenseKey"]
    statuses = {client.get("/events/healthz", headers={"licensekey": license_key}).status_code for _ in range(50)}
    assert statuses == {200}
