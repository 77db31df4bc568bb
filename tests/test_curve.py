"""Issue 26: the curve is a setting (EC_CURVE_NAME, secp256k1 or P-256), used by every key, the clients and the kit."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from eventclient import KosmosClient, kosmos_crypto
from eventclient.exceptions import InvalidKeyEncoding
from mockserver import MockServer, create_app
from mockserver.backend import backend_of
from mockserver.settings import SettingsInvalid

P256 = json.loads((Path(__file__).parents[1] / "conformance" / "vectors" / "kosmos_crypto_prime256v1.json").read_text())
"""Vectors made by Node's createECDH('prime256v1'): an implementation independent of eventclient."""


@pytest.mark.parametrize("pair", P256["keypairs"], ids=lambda p: p["name"])
def test_p256_public_key_of_private_key_matches_node(pair: dict[str, str]) -> None:
    private = kosmos_crypto.load_private_key(pair["privateKey"], "prime256v1")
    assert kosmos_crypto.encode_public_key(private.public_key()) == pair["publicKey"]
    assert kosmos_crypto.curve_of_public_key(pair["publicKey"]) == "prime256v1"


@pytest.mark.parametrize("case", P256["ecdh"])
def test_p256_shared_key_matches_node(case: dict[str, str]) -> None:
    shared = base64.b64decode(case["sharedKey"])
    assert kosmos_crypto.shared_key(case["privateKey"], case["publicKey"], "P-256") == shared
    assert kosmos_crypto.shared_key(case["peerPrivateKey"], case["peerPublicKey"], "secp256r1") == shared


def test_a_key_of_one_curve_is_refused_on_the_other() -> None:
    k1, r1 = kosmos_crypto.generate_keypair(), kosmos_crypto.generate_keypair("prime256v1")
    assert kosmos_crypto.curve_of_public_key(k1.public_key) == "secp256k1"
    with pytest.raises(InvalidKeyEncoding, match="prime256v1"):
        kosmos_crypto.load_public_key(k1.public_key, "prime256v1")
    with pytest.raises(InvalidKeyEncoding):
        kosmos_crypto.shared_key(k1.private_key, r1.public_key)
    with pytest.raises(ValueError, match="not one of"):
        kosmos_crypto.curve_named("ed25519")


@pytest.mark.parametrize("spelling", ["prime256v1", "P-256", "secp256r1", "p256"])
def test_the_setting_takes_the_names_of_p256_and_refuses_others(spelling: str) -> None:
    app = create_app({"DATABASE": ":memory:", "EC_CURVE_NAME": spelling})
    assert app.config["EC_CURVE_NAME"] == "prime256v1"
    with pytest.raises(SettingsInvalid, match="EC_CURVE_NAME"):
        create_app({"DATABASE": ":memory:", "EC_CURVE_NAME": "ed25519"})


def test_a_p256_mock_advertises_its_curve_and_takes_only_p256_callers() -> None:
    client = create_app({"DATABASE": ":memory:", "EC_CURVE_NAME": "P-256"}).test_client()
    license_key = client.post("/__admin/licenses", json={"authLevel": "system"}).json["licenseKey"]
    environment = client.get("/events/environment", headers={"licensekey": license_key}).json
    assert environment["EC_CURVE_NAME"] == "prime256v1"
    for service in ("events", "reports"):
        assert kosmos_crypto.curve_of_public_key(client.get(f"/{service}/publickeys").json["publicKey"]) == "prime256v1"
    service_key = client.get("/events/publickeys").json["publicKey"]

    def put(pair: kosmos_crypto.KeyPair, curve: str) -> Any:
        key = kosmos_crypto.shared_key(pair.private_key, service_key, curve)
        request_id = json.dumps({"ts": time.time(), "uuid": str(uuid.uuid4()), "appid": "t"})
        headers = {
            "publickey": pair.public_key,
            "licensekey": kosmos_crypto.encrypt(license_key, key),
            "requestid": kosmos_crypto.encrypt(request_id, key),
        }
        body = {"data": kosmos_crypto.encrypt('{"type": "p256"}', key)}
        return client.put("/events/tenant/t/community/c/event/E_P256", headers=headers, json=body)

    assert put(kosmos_crypto.generate_keypair("prime256v1"), "prime256v1").status_code == 200
    k1 = kosmos_crypto.generate_keypair()
    refused = client.put(
        "/events/tenant/t/community/c/event/E_P256",
        headers={"publickey": k1.public_key, "licensekey": "x", "requestid": "y"},
        json={"data": "z"},
    )
    assert refused.status_code == 400 and refused.json["message"].startswith("publickey: ")
    helper = kosmos_crypto.generate_keypair("prime256v1")
    body = {"dataStr": "hi", "publicKey": helper.public_key, "privateKey": helper.private_key}
    assert client.post("/reports/ecdsa_helper/encrypt", json=body).status_code == 200


def test_the_client_finds_the_curve_from_the_service_key() -> None:
    with MockServer(config={"EC_CURVE_NAME": "prime256v1"}) as srv:
        license_key = srv.create_license("system")["licenseKey"]
        with KosmosClient(srv.url, license_key) as client:
            client.put_event("acme", "main", "E_LOGIN_SUCCEEDED", {"type": "login"})
            assert client.curve == "prime256v1"
            assert kosmos_crypto.curve_of_public_key(client.keypair.public_key) == "prime256v1"
            assert client.query_events("acme", "main")["page"]["total"] == 1
            assert client.metrics("acme", "main", "M_C_LOGINS") == 1


def test_a_change_of_curve_gives_the_services_new_keys_on_it_under_the_same_ids(tmp_path: Path) -> None:
    path = str(tmp_path / "curve.sqlite")
    first = backend_of(create_app({"DATABASE": path})).kosmos
    old = {s: first.primary_key(s) for s in ("events", "reports")}
    again = backend_of(create_app({"DATABASE": path, "EC_CURVE_NAME": "prime256v1"})).kosmos
    new = {s: again.primary_key(s) for s in ("events", "reports")}
    for service in ("events", "reports"):
        assert kosmos_crypto.curve_of_public_key(new[service].public_key) == "prime256v1"
        assert new[service].public_key != old[service].public_key
        assert new[service].key_id == old[service].key_id
    assert again.primary_key("events").public_key == new["events"].public_key  # kept while the curve stays
