"""Issue 11 findings 5 and 6: JSON that only a lenient parser reads (deep nesting, non-finite numbers,
lone surrogates) is refused with a 4xx in the API's format wherever JSON comes in, and nothing is stored.
Each refusal has its accepted twin."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask.testing import FlaskClient

from eventclient import jws, kosmos_crypto
from tests.conftest import KosmosSigner, TenDukeSigner, stored_events, tenduke_events

DEEP = "[" * 10_000 + "]" * 10_000
HEADER_DEEP = "[" * 2_500 + "]" * 2_500  # deep enough to overflow a recursive parser, small enough for a header
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 400]
SURROGATE = '"\\ud800"'


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_jws(header: str, payload: str, private_pem: str) -> str:
    """A compact RS256 JWS of exactly these header and payload texts, really signed."""
    signing_input = f"{b64url(header.encode())}.{b64url(payload.encode())}"
    key = jws.load_rsa_private_key(private_pem)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def assert_kosmos_refusal(response: Any, status: int = 400) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.json) == {"statusCode", "error", "message"}


def assert_tenduke_refusal(response: Any, status: int = 400) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.json) == {"error", "message"}


def kosmos_put(signer: KosmosSigner, license_key: str, request_id: str, data: str) -> Any:
    key = signer.key
    headers = {
        "publickey": signer.pair.public_key,
        "licensekey": kosmos_crypto.encrypt(license_key, key),
        "requestid": kosmos_crypto.encrypt(request_id, key),
    }
    body = json.dumps({"data": kosmos_crypto.encrypt(data, key)})
    return signer.client.put(
        "/events/tenant/t1/community/c1/event/E", headers=headers, data=body, content_type="application/json"
    )


def good_request_id(signer: KosmosSigner, extra: str = "") -> str:
    return f'{{"ts": {int(signer.clock.now)}, "uuid": "{signer.request_id()["uuid"]}", "appid": "a"{extra}}}'


# --- 1Kosmos -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where, bad",
    [
        ("request id", HEADER_DEEP),
        ("request id field", ', "x": ' + HEADER_DEEP),
        ("data", DEEP),
        ("data field", '{"type": "event", "x": ' + DEEP + "}"),
        *[("request id field", f', "x": {n}') for n in NON_FINITE],
        *[("data field", f'{{"type": "event", "x": {n}}}') for n in NON_FINITE],
        ("request id field", f', "x": {SURROGATE}'),
        ("data field", f'{{"type": "event", "x": {SURROGATE}}}'),
        ("data field", f'{{"type": "event", {SURROGATE}: 1}}'),
    ],
)
def test_kosmos_refuses_lenient_json_in_decrypted_values(
    signer: KosmosSigner, make_license: Any, where: str, bad: str
) -> None:
    license_key = make_license()
    request_id, data = good_request_id(signer), '{"type": "event"}'
    if where == "request id":
        request_id = bad
    elif where == "request id field":
        request_id = good_request_id(signer, bad)
    else:
        data = bad
    assert_kosmos_refusal(kosmos_put(signer, license_key, request_id, data))
    assert stored_events(signer.client) == []
    assert kosmos_put(signer, license_key, good_request_id(signer), '{"type": "event", "x": 1e300}').status_code == 200
    assert len(stored_events(signer.client)) == 1


@pytest.mark.parametrize("body", [DEEP, '{"data": ' + DEEP + "}", '{"data": NaN}', '{"data": {"x": 1e400}}'])
def test_kosmos_refuses_lenient_json_bodies(signer: KosmosSigner, make_license: Any, body: str) -> None:
    license_key = make_license()
    response = signer.client.put(
        "/events/tenant/t1/community/c1/event/E",
        headers=signer.headers(license_key),
        data=body,
        content_type="application/json",
    )
    assert_kosmos_refusal(response)
    assert stored_events(signer.client) == []


# --- 10Duke ------------------------------------------------------------------------------------------

EVENT = '{"eventSourceId": "s", "eventType": "login"%s}'


@pytest.mark.parametrize(
    "header, payload",
    [
        ('{"alg": "RS256", "x": ' + DEEP + "}", EVENT % ""),
        ('{"alg": "RS256", "x": NaN}', EVENT % ""),
        ('{"alg": "RS256", "kid": ' + SURROGATE + "}", EVENT % ""),
        ('{"alg": "RS256", "crit": ["exp"], "exp": 1}', EVENT % ""),
        ('{"alg": "RS256"}', DEEP),
        ('{"alg": "RS256"}', EVENT % (', "data": ' + DEEP)),
        *[('{"alg": "RS256"}', EVENT % f', "data": {{"x": {n}}}') for n in NON_FINITE],
        ('{"alg": "RS256"}', '{"eventSourceId": ' + SURROGATE + ', "eventType": "login"}'),
        ('{"alg": "RS256"}', '{"eventSourceId": "s", "eventType": ' + SURROGATE + "}"),
        ('{"alg": "RS256"}', EVENT % (', "eventObjectType": ' + SURROGATE + ', "eventObjectId": "o"')),
        ('{"alg": "RS256"}', EVENT % (', "eventObjectType": "t", "eventObjectId": ' + SURROGATE)),
    ],
)
def test_put_refuses_lenient_json_in_a_signed_jws(tenduke: TenDukeSigner, header: str, payload: str) -> None:
    response = tenduke.client.post(
        "/put", data=raw_jws(header, payload, tenduke.pair.private_pem), content_type="application/jose"
    )
    assert_tenduke_refusal(response, 401 if "crit" in header else 400)
    assert tenduke_events(tenduke.client) == []
    good = raw_jws('{"alg": "RS256"}', EVENT % ', "data": {"x": 1e300}', tenduke.pair.private_pem)
    assert tenduke.client.post("/put", data=good, content_type="application/jose").status_code == 200
    assert len(tenduke_events(tenduke.client)) == 1


@pytest.mark.parametrize(
    "header, claims",
    [
        ('{"alg": "RS256", "x": ' + HEADER_DEEP + "}", '{"*": true, "exp": %d}'),
        ('{"alg": "RS256"}', '{"*": true, "exp": %d, "x": ' + HEADER_DEEP + "}"),
        ('{"alg": "RS256", "crit": ["exp"]}', '{"*": true, "exp": %d}'),
        ('{"alg": "RS256"}', '{"*": true, "exp": NaN, "x": %d}'),
        ('{"alg": "RS256"}', '{"*": true, "exp": Infinity, "x": %d}'),
        ('{"alg": "RS256"}', '{"*": true, "exp": 1e400, "x": %d}'),
        ('{"alg": "RS256"}', '{"*": true, "exp": %d, ' + SURROGATE + ": true}"),
    ],
)
def test_feed_refuses_lenient_json_in_a_bearer_token(tenduke: TenDukeSigner, header: str, claims: str) -> None:
    exp = int(tenduke.clock.now + 60)
    token = raw_jws(header, claims % exp, tenduke.pair.private_pem)
    assert_tenduke_refusal(tenduke.get("/get/s", token), 401)
    good = raw_jws('{"alg": "RS256"}', json.dumps({"*": True, "exp": exp}), tenduke.pair.private_pem)
    assert tenduke.get("/get/s", good).status_code == 200


# --- admin -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, body",
    [
        ("/__admin/licenses", DEEP),
        ("/__admin/licenses", '{"authLevel": "system", "tag": ' + SURROGATE + "}"),
        ("/__admin/licenses", '{"authLevel": "system", "tenantId": ' + SURROGATE + "}"),
        ("/__admin/licenses", '{"authLevel": "system", "tag": "x", "x": NaN}'),
        ("/__admin/tenduke/clients", '{"publicKeyPem": "x", "name": ' + SURROGATE + "}"),
    ],
)
def test_admin_refuses_lenient_json(client: FlaskClient, path: str, body: str) -> None:
    response = client.post(path, data=body, content_type="application/json")
    assert_tenduke_refusal(response)
    assert client.get("/__admin/licenses").json == []
    assert client.get("/__admin/tenduke/clients").json == []
    assert client.post("/__admin/licenses", json={"authLevel": "system", "tag": "日本"}).status_code == 201


# --- finding 9: every RFC 3339 expiry the spec accepts keeps working ---------------------------------


@pytest.mark.parametrize(
    "expiry, expired",
    [
        ("2099-01-01t00:00:00z", False),
        ("2099-01-01T00:00:00.123456789+14:00", False),
        ("2016-12-31T23:59:59.5Z", True),
        ("2000-01-01t00:00:00-00:00", True),
    ],
)
def test_a_valid_expiry_never_breaks_its_license(
    signer: KosmosSigner, make_license: Any, expiry: str, expired: bool
) -> None:
    license_key = make_license(expiry=expiry)
    response = signer.put_event(license_key)
    assert response.status_code == (401 if expired else 200), response.json
    assert len(stored_events(signer.client)) == (0 if expired else 1)
    other = make_license()
    key_id = next(r["keyId"] for r in signer.client.get("/__admin/licenses").json if r["licenseKey"] == other)
    assert signer.client.patch(f"/__admin/licenses/{key_id}", json={"expiry": expiry}).status_code == 200
    assert signer.put_event(other).status_code == (401 if expired else 200)


@pytest.mark.parametrize("expiry", ["2099-13-01T00:00:00Z", "2099-01-01T00:00:00+24:00", "9999-12-31T23:59:60Z"])
def test_an_expiry_that_could_not_be_read_later_is_refused_at_creation(client: FlaskClient, expiry: str) -> None:
    response = client.post("/__admin/licenses", json={"authLevel": "system", "expiry": expiry})
    assert_tenduke_refusal(response)
    assert "expiry" in response.json["message"]
    assert client.get("/__admin/licenses").json == []


def test_a_seed_expiry_is_read_as_written_and_checked(tmp_path: Path) -> None:
    from mockserver import create_app
    from mockserver.backend import backend_of
    from mockserver.seed import SeedError, apply_seed, load_seed

    seed = tmp_path / "seed.yaml"
    seed.write_text("licenses:\n  - {licenseKey: seed-license-one, authLevel: system, expiry: 2099-01-01t00:00:00z}\n")
    app = create_app({"DATABASE": ":memory:"})
    with app.app_context():
        apply_seed(backend_of(app), load_seed(seed))
        record = backend_of(app).kosmos.license_by_key("seed-license-one")
        assert record is not None and record.expiry == "2099-01-01t00:00:00z"
        assert record.refusal(backend_of(app).clock()) is None
    seed.write_text("licenses:\n  - {licenseKey: seed-license-two, authLevel: system, expiry: 2099-02-30T00:00:00Z}\n")
    with app.app_context(), pytest.raises(SeedError, match="expiry"):
        apply_seed(backend_of(app), load_seed(seed))
    with app.app_context():
        assert backend_of(app).kosmos.license_by_key("seed-license-two") is None


# --- finding 10: a replay under another spelling, or across a clock step, is refused -----------------


def _spellings(value: str) -> list[str]:
    hex_only = value.replace("-", "")
    return [value.upper(), hex_only, "{" + value + "}", "urn:uuid:" + value, "{" + hex_only.upper() + "}"]


def test_a_request_id_is_one_id_however_it_is_spelled(signer: KosmosSigner, make_license: Any) -> None:
    license_key = make_license()
    request_id = signer.request_id()
    assert (
        signer.client.put(
            "/events/tenant/t1/community/c1/event/E",
            headers=signer.headers(license_key, request_id),
            json={"data": {"type": "x"}},
        ).status_code
        == 200
    )
    for spelling in _spellings(request_id["uuid"]):
        response = signer.client.put(
            "/events/tenant/t1/community/c1/event/E",
            headers=signer.headers(license_key, {**request_id, "uuid": spelling}),
            json={"data": {"type": "x"}},
        )
        assert_kosmos_refusal(response, 401)
    assert len(stored_events(signer.client)) == 1


@pytest.mark.parametrize("step", [3600, -3600, 6 * 3600])
def test_a_replay_stays_refused_across_clock_steps(
    signer: KosmosSigner, make_license: Any, clock: Any, step: int
) -> None:
    license_key = make_license()
    request_id = signer.request_id()
    headers = signer.headers(license_key, request_id)
    first = signer.client.put("/events/tenant/t1/community/c1/event/E", headers=headers, json={"data": {"type": "x"}})
    assert first.status_code == 200
    start = clock.now
    clock.now = start + step  # another request while the clock is off: the mock purges what it thinks expired
    assert signer.put_event(make_license()).status_code in (200, 401)
    clock.now = start + 1
    again = signer.client.put("/events/tenant/t1/community/c1/event/E", headers=headers, json={"data": {"type": "x"}})
    assert_kosmos_refusal(again, 401)
    assert "already used" in again.json["message"]
    assert len([e for e in stored_events(signer.client) if e["request_id"] == request_id["uuid"]]) == 1


# --- finding 7: the work on /put does not grow with the number of registered keys -------------------


def test_put_decodes_and_hashes_once_whatever_the_number_of_keys(client: FlaskClient) -> None:
    from unittest import mock

    for _ in range(20):
        pair = jws.generate_rsa_keypair(2048)
        assert client.post("/__admin/tenduke/clients", json={"publicKeyPem": pair.public_pem}).status_code == 201
    stranger = jws.generate_rsa_keypair(2048)
    body = jws.sign_jws({"eventSourceId": "s", "eventType": "t", "pad": "x" * 500_000}, stranger.private_pem)
    decode, digest = mock.Mock(wraps=jws._base64url), mock.Mock(wraps=jws.hashes.Hash)
    with mock.patch.object(jws, "_base64url", decode), mock.patch.object(jws.hashes, "Hash", digest):
        response = client.post("/put", data=body, content_type="application/jose")
    assert_tenduke_refusal(response, 401)
    assert decode.call_count == 3  # header, payload, signature: once each
    assert digest.call_count == 1
    assert tenduke_events(client) == []


# --- finding 11: a full disk is a 507 in the API's format, and the write is not acknowledged --------


def _fill_until_refused(send: Any, limit: int = 400) -> tuple[int, Any]:
    for sent in range(limit):
        response = send(sent)
        if response.status_code != 200:
            return sent, response
    raise AssertionError(f"{limit} writes were all accepted")


def test_a_full_database_is_507_and_nothing_half_stored(tmp_path: Path, clock: Any) -> None:
    from mockserver import create_app
    from mockserver.backend import backend_of
    from tests.conftest import KosmosSigner, TenDukeSigner

    app = create_app({"DATABASE": str(tmp_path / "full.sqlite"), "CLOCK": clock})
    client = app.test_client()
    kosmos, tenduke = KosmosSigner(client, clock), TenDukeSigner(client, clock)
    license_key = client.post("/__admin/licenses", json={"authLevel": "system"}).json["licenseKey"]
    with app.app_context():
        pages = backend_of(app).db.query("PRAGMA page_count")[0][0]
        backend_of(app).db.query(f"PRAGMA max_page_count = {pages + 8}")  # a disk with 32 KiB left
    pad = "x" * 3000
    stored, refused = _fill_until_refused(lambda n: kosmos.put_event(license_key, name=f"E_{n}", pad=pad))
    assert refused.status_code == 507
    assert set(refused.json) == {"statusCode", "error", "message"} and "full" in refused.json["message"]
    assert len(stored_events(client)) == stored
    before = len(tenduke_events(client))
    response = tenduke.put([{"eventSourceId": "s", "eventType": "t", "pad": pad * 10}])
    assert response.status_code == 507 and set(response.json) == {"error", "message"}
    assert len(tenduke_events(client)) == before
    assert client.get("/events/healthz").status_code == 200  # reads still work


def test_a_busy_database_is_503_with_retry_after(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    import sqlite3
    from unittest import mock

    from mockserver.backend import backend_of

    db = backend_of(client.application).db
    if db.dialect == "sqlite":
        busy: Exception = sqlite3.OperationalError("database is locked")
    else:
        from psycopg import errors

        busy = errors.LockNotAvailable("could not obtain lock")
    real = db._execute

    def commit_refused(sql: str, params: Any = ()) -> Any:
        if sql == "COMMIT":
            raise busy
        return real(sql, params)

    with mock.patch.object(db, "_execute", commit_refused):
        response = tenduke.put({"eventSourceId": "s", "eventType": "t"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert tenduke_events(client) == []


# --- finding 8: pages and admin listings are bounded by bytes, and the feed stays exact ---------------


def test_feed_pages_are_bounded_by_bytes_and_a_reader_still_gets_every_event(clock: Any) -> None:
    from mockserver import create_app
    from tests.conftest import TenDukeSigner

    client = create_app({"DATABASE": ":memory:", "CLOCK": clock, "MAX_PAGE_BYTES": 4096}).test_client()
    tenduke = TenDukeSigner(client, clock)
    events = [{"eventSourceId": "big", "eventType": "t", "n": n, "pad": "x" * 900} for n in range(20)]
    events.insert(7, {"eventSourceId": "big", "eventType": "t", "n": "huge", "pad": "y" * 10_000})
    assert tenduke.put(events).status_code == 200
    seen, url, sizes = [], "/get/big?after=0&maxEventCount=100", []
    for _ in range(40):
        page = tenduke.get(url)
        assert page.status_code == 200
        body = page.json
        found = body["objects"][1:-1]
        assert body["count"] == len(found)
        if not found:
            break
        sizes.append(len(found))
        assert len(found) == 1 or sum(len(json.dumps(e)) for e in found) <= 4096 + 200 * len(found)
        seen.extend(e["n"] for e in found)
        url = body["objects"][-1]["url"] + "&maxEventCount=100"
    assert seen == [e["n"] for e in events]  # every event once, in order, the huge one alone on its page
    assert max(sizes) <= 4 and 1 in sizes
    order = [e["n"] for e in events]
    for newest in (
        tenduke.get("/get/big?newest=true&maxEventCount=100").json["objects"][1:-1],
        client.get("/__admin/events?api=tenduke&limit=100000").json,
    ):
        assert 2 <= len(newest) <= 4 and [e["n"] for e in newest] == order[-len(newest) :]


def test_a_nul_character_in_a_stored_field_is_never_a_500(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    """SQLite stores U+0000; PostgreSQL's text cannot hold it, so that engine refuses with 400 and stores nothing."""
    from mockserver.backend import backend_of

    engine = backend_of(client.application).db.dialect
    response = tenduke.put(
        [{"eventSourceId": "nul\u0000source", "eventType": "t"}, {"eventSourceId": "s", "eventType": "t"}]
    )
    if engine == "postgresql":
        assert response.status_code == 400 and "NUL" in response.json["message"]
        assert tenduke_events(client) == []
    else:
        assert response.status_code == 200
        assert len(tenduke_events(client)) == 2
    assert tenduke.put({"eventSourceId": "nul-free", "eventType": "t"}).status_code == 200
