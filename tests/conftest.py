from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from flask.testing import FlaskClient

from eventclient import kosmos_crypto
from mockserver import create_app
from mockserver.backend import backend_of
from mockserver.waits import RequestGreenlet
from tests.engines import ENGINES, database_in, fresh_postgres
from tests.servers import start_server, stop_server

SERVER_MODES = {"one process": [], "2 workers": ["--workers", "2"]}
"""The two ways ``eventdouble serve`` serves, for tests where the server mode matters."""


@pytest.fixture(scope="module", params=[(mode, engine) for mode in SERVER_MODES for engine in ENGINES], ids=str)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``eventdouble serve`` on a fresh database, once per module, server mode and engine: its base URL."""
    mode, engine = request.param
    with database_in(engine, tmp_path_factory.mktemp("served")) as db:
        process, url, _ = start_server("--db", db, *SERVER_MODES[mode])
        try:
            yield url
        finally:
            stop_server(process)


@pytest.fixture(params=ENGINES)
def server_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """What ``--db`` takes for a server test, on each engine (a SQLite file, a fresh PostgreSQL schema)."""
    with database_in(request.param, tmp_path) as db:
        yield db


class Clock:
    """A settable clock for the app under test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=ENGINES)
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """What ``--db`` takes: SQLite in memory, or an empty PostgreSQL schema (tests/engines.py)."""
    if request.param == "sqlite":
        yield ":memory:"
        return
    with fresh_postgres() as url:
        yield url


@pytest.fixture
def app(clock: Clock, database: str) -> Iterator[Flask]:
    app = create_app({"DATABASE": database, "CLOCK": clock, "TESTING": True})
    yield app
    backend_of(app).close()


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
        """The key shared with the events service."""
        return self.key_of("events")

    def key_of(self, service: str) -> bytes:
        """The key shared with ``service`` (``events`` or ``reports``): each has its own key pair."""
        server_public = self.client.get(f"/{service}/publickeys").json["publicKey"]
        return kosmos_crypto.shared_key(self.pair.private_key, server_public)

    def request_id(self, ts: float | None = None, **overrides: Any) -> dict[str, Any]:
        value = {"ts": int(self.clock.now if ts is None else ts), "uuid": str(uuid.uuid4()), "appid": "tests"}
        value.update(overrides)
        return value

    def headers(
        self, license_key: str, request_id: dict[str, Any] | None = None, service: str = "events"
    ) -> dict[str, str]:
        key = self.key_of(service)
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
            f"/reports/tenant/{tenant}/community/{community}/events",
            headers=self.headers(license_key, service="reports"),
            json=body,
        )


@pytest.fixture
def signer(client: FlaskClient, clock: Clock) -> KosmosSigner:
    return KosmosSigner(client, clock)


def stored_events(client: FlaskClient) -> list[dict[str, Any]]:
    response = client.get("/__admin/events?api=kosmos")
    assert response.status_code == 200
    return list(response.json)


# --- 10Duke -------------------------------------------------------------------------------------

_RSA_CACHE: dict[int, Any] = {}


def rsa_pair(bits: int = 2048, slot: int = 0) -> Any:
    """An RSA key pair, generated once per (bits, slot) per session: 4096-bit keys are slow to make."""
    from eventclient import jws

    if (bits, slot) not in _RSA_CACHE:
        _RSA_CACHE[(bits, slot)] = jws.generate_rsa_keypair(bits)
    return _RSA_CACHE[(bits, slot)]


class TenDukeSigner:
    """Registers a client key and signs /put bodies and bearer tokens with it."""

    def __init__(self, client: FlaskClient, clock: Clock, bits: int = 2048, slot: int = 0) -> None:
        self.client = client
        self.clock = clock
        self.pair = rsa_pair(bits, slot)
        response = client.post("/__admin/tenduke/clients", json={"publicKeyPem": self.pair.public_pem, "name": "t"})
        assert response.status_code in (201, 409), response.json
        self.record = response.json

    def put(self, payload: Any, algorithm: str = "RS256") -> Any:
        from eventclient import jws

        body = jws.sign_jws(payload, self.pair.private_pem, algorithm)
        return self.client.post("/put", data=body, content_type="application/jose")

    def token(self, feed: str = "*", lifetime: float = 60, **claims: Any) -> str:
        from eventclient import jws

        return jws.sign_bearer({feed: True, "exp": int(self.clock.now + lifetime), **claims}, self.pair.private_pem)

    def get(self, url: str, token: str | None = None) -> Any:
        return self.client.get(url, headers={"Authorization": f"Bearer {token or self.token()}"})


@pytest.fixture
def tenduke(client: FlaskClient, clock: Clock) -> TenDukeSigner:
    return TenDukeSigner(client, clock)


def tenduke_events(client: FlaskClient, **filters: str) -> list[dict[str, Any]]:
    response = client.get("/__admin/events", query_string={"api": "tenduke", "limit": 100000, **filters})
    assert response.status_code == 200
    return list(response.json)


@pytest.fixture(autouse=True, scope="session")
def cross_check_fast_validators() -> Iterator[None]:
    """Every request of the suite also checks that the fast validator never accepts more than jsonschema."""
    from mockserver.spec import OpenApiSpec

    OpenApiSpec.cross_check = True
    yield
    OpenApiSpec.cross_check = False


T = TypeVar("T")


async def run_as_request(work: Callable[[], T]) -> T:
    """Run ``work`` as a request on this event loop runs (a greenlet that pauses and waits for futures)."""
    runner = RequestGreenlet(work)
    value = runner.switch()
    while not runner.dead:
        value = (
            runner.switch(await value)
            if isinstance(value, asyncio.Future)
            else runner.switch(await asyncio.sleep(value))
        )
    return value  # type: ignore[no-any-return]
