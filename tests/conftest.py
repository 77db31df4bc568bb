from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from eventclient import kosmos_crypto
from mockserver import create_app


class Clock:
    """A settable clock for the app under test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> Flask:
    return create_app({"DATABASE": ":memory:", "CLOCK": clock, "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_license(client: FlaskClient) -> Callable[..., str]:
    def make(auth_level: str = "system", **fields: Any) -> str:
        response = client.post("/__admin/licenses", json={"authLevel": auth_level, **fields})
        assert response.status_code == 201, response.json
        return str(response.json["licenseKey"])

    return make


class KosmosSigner:
    """Builds the three headers and encrypted bodies with eventclient's crypto."""

    def __init__(self, client: FlaskClient, clock: Clock) -> None:
        self.client = client
        self.clock = clock
        self.pair = kosmos_crypto.generate_keypair()

    @property
    def key(self) -> bytes:
        server_public = self.client.get("/events/publickeys").json["publicKey"]
        return kosmos_crypto.shared_key(self.pair.private_key, server_public)

    def request_id(self, ts: float | None = None, **overrides: Any) -> dict[str, Any]:
        value = {"ts": int(self.clock.now if ts is None else ts), "uuid": str(uuid.uuid4()), "appid": "tests"}
        value.update(overrides)
        return value

    def headers(self, license_key: str, request_id: dict[str, Any] | None = None) -> dict[str, str]:
        key = self.key
        return {
            "publickey": self.pair.public_key,
            "licensekey": kosmos_crypto.encrypt(license_key, key),
            "requestid": kosmos_crypto.encrypt(json.dumps(request_id or self.request_id()), key),
        }

    def seal(self, value: Any) -> str:
        return kosmos_crypto.encrypt(json.dumps(value), self.key)

    def put_event(
        self, license_key: str, tenant: str = "t1", community: str = "c1", name: str = "E_LOGIN_ATTEMPT", **data: Any
    ) -> Any:
        event = {"type": "event", **data}
        return self.client.put(
            f"/events/tenant/{tenant}/community/{community}/event/{name}",
            headers=self.headers(license_key),
            json={"data": self.seal(event)},
        )

    def query(self, license_key: str, tenant: str = "t1", community: str = "c1", **body: Any) -> Any:
        return self.client.post(
            f"/reports/tenant/{tenant}/community/{community}/events", headers=self.headers(license_key), json=body
        )


@pytest.fixture
def signer(client: FlaskClient, clock: Clock) -> KosmosSigner:
    return KosmosSigner(client, clock)


def stored_events(client: FlaskClient) -> list[dict[str, Any]]:
    response = client.get("/__admin/events?api=kosmos")
    assert response.status_code == 200
    return list(response.json)
