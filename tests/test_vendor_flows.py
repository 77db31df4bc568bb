"""Issue 26: the calls the vendors' own clients make, in their order, with their headers and parsing.

Written in this project's code from reading the vendors' public clients (none of theirs is copied or
run here): the 1Kosmos Postman collection's pre-request flow for the reports service, the 1Kosmos
Node and Java helpers' discovery, key fetch and PUT, and the 10Duke event-data-reader's paging.
Each runs over https against ``eventdouble serve --tls`` in its own process, trusting the CA file
the banner names, with only the base ``dns`` (or URL) pointed at the mock.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from eventclient import jws, kosmos_crypto
from mockserver.kosmos.events import format_time
from tests.conftest import rsa_pair
from tests.servers import start_server, stop_server

LICENSE = "vendor-flows-community-license"
TENANT, COMMUNITY = "acme", "main"


def compact(value: Any) -> str:
    """``JSON.stringify`` and Gson: no spaces."""
    return json.dumps(value, separators=(",", ":"))


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``eventdouble serve --tls`` with a community license of acme/main and a registered 10Duke key."""
    root = tmp_path_factory.mktemp("vendor-flows")
    seed = root / "seed.json"
    seed.write_text(
        compact(
            {
                "licenses": [
                    {"licenseKey": LICENSE, "authLevel": "community", "tenantId": TENANT, "communityId": COMMUNITY}
                ],
                "tendukeClients": [{"publicKeyPem": rsa_pair(4096, slot=3).public_pem}],
            }
        )
    )
    process, url, banner = start_server("--tls", "--db", str(root / "mock.sqlite"), "--seed", str(seed))
    ca_file = next(line for line in banner.splitlines() if "CA certificate" in line).split()[2]
    http = httpx.Client(verify=ssl.create_default_context(cafile=ca_file), timeout=30)  # NODE_EXTRA_CA_CERTS, keytool
    try:
        yield {"url": url, "dns": url.removeprefix("https://"), "http": http}
    finally:
        http.close()
        stop_server(process)


# --- the 1Kosmos Node helper (BIDTenant, BIDEvents, WTM) ----------------------------------------------------


def node_helper_log_event(http: httpx.Client, dns: str, event_name: str, data: dict[str, Any]) -> httpx.Response:
    """``BIDEvents.logEvent({dns, communityName, licenseKey}, eventName, data, WTM.createRequestID())``."""
    helper_headers = {"Content-Type": "application/json", "charset": "utf-8"}
    info = http.post(
        f"https://{dns}/api/r1/system/community_info/fetch",
        content=compact({"dns": dns, "communityName": COMMUNITY}),
        headers=helper_headers,
    ).json()
    assert info["tenant"] and info["community"], info  # else the helper keeps null
    sd = http.get(f"https://{dns}/caas/sd", headers=helper_headers).json()
    assert sd["licenses"], sd  # else the helper keeps null and the PUT has no URL
    events_key = http.get(f"{sd['events']}/publickeys").json()["publicKey"]  # cached 24 h per URL
    pair = kosmos_crypto.generate_keypair()  # createECDH(ecCurveName).generateKeys(), once per process
    shared = kosmos_crypto.shared_key(pair.private_key, events_key)
    request_id = {"ts": round(time.time()), "uuid": str(uuid.uuid4()), "appid": "com.1kosmos.nodejs-helper.request"}
    return http.put(
        f"{sd['events']}/tenant/{info['tenant']['id']}/community/{info['community']['id']}/event/{event_name}",
        content=compact({"data": kosmos_crypto.encrypt(compact(data), shared)}),
        headers={
            **helper_headers,
            "publickey": pair.public_key,
            "requestid": kosmos_crypto.encrypt(compact(request_id), shared),
            "licensekey": kosmos_crypto.encrypt(LICENSE, shared),
        },
    )


def test_the_node_helpers_discovery_key_fetch_and_put(mock: dict[str, Any]) -> None:
    response = node_helper_log_event(mock["http"], mock["dns"], "E_LOGIN_SUCCEEDED", {"type": "node", "user": "ann"})
    assert response.status_code == 200, response.text
    assert response.text == ""  # WTM parses text; JSON.parse('') fails and it keeps no json, as the vendor's
    assert json.loads(response.headers["requestid"])["appid"] == "com.1kosmos.nodejs-helper.request"


# --- the 1Kosmos Java helper (BIDTenant, BIDEvents, WTM, EncryptDecryptLogic) -------------------------------


def java_seal(text: str, shared: bytes) -> str:
    """``BIDECDSA.encrypt``: AES-256-GCM with an IV of 16 ASCII hex characters (``generateRandomIV16``)."""
    iv = os.urandom(8).hex().encode("ascii")
    return kosmos_crypto.encrypt(text, shared, iv=iv)


def java_private_key_bytes(pair: kosmos_crypto.KeyPair) -> bytes:
    """``BigInteger.toByteArray()`` of the scalar: 33 bytes with a leading 0 when the top bit is set, fewer if small."""
    scalar = int.from_bytes(base64.b64decode(pair.private_key), "big")
    return scalar.to_bytes(scalar.bit_length() // 8 + 1, "big")


def test_the_java_helpers_discovery_key_fetch_and_put(mock: dict[str, Any]) -> None:
    http, dns = mock["http"], mock["dns"]
    default_headers = {"Content-Type": "application/json", "charset": "utf-8"}  # WTM.defaultHeaders(), on GETs too
    info = http.post(
        f"https://{dns}/api/r1/system/community_info/fetch",
        content=compact({"dns": dns, "communityName": COMMUNITY}),
        headers=default_headers,
    )
    assert info.status_code == 200  # the helper logs anything else as "Unable to load communityInfo"
    community_info = info.json()
    sd = http.get(f"https://{dns}/caas/sd", headers=default_headers)
    assert sd.status_code == 200
    events_url = sd.json()["events"]  # BIDSD.events
    key = http.get(f"{events_url}/publickeys", headers=default_headers)
    assert key.status_code == 200
    pair = kosmos_crypto.generate_keypair()
    private = base64.b64encode(java_private_key_bytes(pair)).decode()
    shared = kosmos_crypto.shared_key(private, key.json()["publicKey"])
    request_id = {"ts": int(time.time()), "uuid": str(uuid.uuid4()), "appid": "java-helper"}  # WTM.makeRequestId
    response = http.put(
        f"{events_url}/tenant/{community_info['tenant']['id']}/community/{community_info['community']['id']}"
        "/event/E_LOGIN_FAILED",
        content=compact({"data": java_seal(compact({"type": "java", "user": "bob"}), shared)}),
        headers={
            **default_headers,
            "licensekey": java_seal(LICENSE, shared),
            "requestid": java_seal(compact(request_id), shared),
            "publickey": pair.public_key,
        },
    )
    assert response.status_code == 200, response.text


# --- the 1Kosmos Postman collection: the reports service's Events and Metrics requests -----------------------


def postman_pre_request(http: httpx.Client, client_api: str, keypair: kosmos_crypto.KeyPair) -> dict[str, str]:
    """The pre-request script of the collection's Reports requests: look-up, reports key, both headers by helper."""
    payload = compact({"dns": client_api.replace("https://", ""), "communityName": COMMUNITY})
    looked_up = http.post(
        f"{client_api}/api/r1/system/community_info/fetch",
        content=payload,
        headers={"Content-Type": "application/json", "Content-Length": str(len(payload))},
    ).json()
    community, tenant = looked_up["community"], looked_up["tenant"]
    environment = {"communityId": community["id"], "tenantId": community["tenantid"], "tag": tenant["tenanttag"]}
    reports_key = http.get(
        f"{client_api}/reports/publickeys",
        headers={"Content-Type": "application/json", "X-TenantTag": environment["tag"]},
    ).json()["publicKey"]

    def ecdsa_helper(method: str, data_str: str) -> str:
        body = compact(
            {"method": method, "publicKey": reports_key, "privateKey": keypair.private_key, "dataStr": data_str}
        )
        answer = http.post(
            f"{client_api}/reports/ecdsa_helper/{method}",
            content=body,
            headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
        )
        return str(answer.json()["data"])

    request_id = {"ts": round(time.time()), "appid": "com.postman.request", "uuid": str(uuid.uuid4())}
    environment["enc_license_for_client"] = ecdsa_helper("encrypt", LICENSE)
    environment["requestid"] = ecdsa_helper("encrypt", compact(request_id))
    return environment


def postman_send(http: httpx.Client, client_api: str, what: str, raw_body: str, keypair: kosmos_crypto.KeyPair) -> Any:
    """One Reports request of the collection, its pre-request script first, with the collection's headers."""
    environment = postman_pre_request(http, client_api, keypair)
    return http.post(
        f"{client_api}/reports/tenant/{environment['tenantId']}/community/{environment['communityId']}/{what}",
        content=raw_body.encode(),
        headers={
            "accept": "*/*",
            "licensekey": environment["enc_license_for_client"],
            "publicKey": keypair.public_key,
            "Content-Type": "application/json",
            "requestid": environment["requestid"],
        },
    )


EVENTS_BODY = (
    '{\r\n    "pSize": 10,\r\n    "pIndex": 1,\r\n    "from": "%s",\r\n    "to": "%s",\r\n'
    '    "query": {\r\n        "event_name": "%s"\r\n    }\r\n}'
)
"""The collection's Events body, as raw text (CRLF, four-space indents); only its values are filled in."""
METRICS_BODY = '{\r\n  "metricsName": "M_GT_SUCCESSFUL_AUTHENTICATIONS",\r\n  "from": "%s",\r\n  "to": "%s"\r\n  }'


def test_the_postman_reports_request_unmodified_gets_the_documented_refusal(mock: dict[str, Any]) -> None:
    """The collection's own dates (May 2025) are more than 90 days back: its 'Incorrect From-To Dates' answer."""
    keypair = kosmos_crypto.generate_keypair()
    body = EVENTS_BODY % ("2025-05-01 00:00:00.000", "2025-05-10 00:00:00.000", "E_IDV_DOCUMENT_VALIDATE")
    response = postman_send(mock["http"], mock["url"], "events", body, keypair)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": "Field should be from current time to minus 90 days", "param": "from"}]
    }


def test_the_postman_reports_request_reads_back_what_the_helpers_wrote(mock: dict[str, Any]) -> None:
    http, started = mock["http"], time.time() - 5
    name = f"E_POSTMAN_{uuid.uuid4().hex[:8].upper()}"
    for n in range(12):  # the request asks for page 1 of 10: the 11th and 12th events
        assert node_helper_log_event(http, mock["dns"], name, {"type": "postman", "n": n}).status_code == 200
    keypair = kosmos_crypto.generate_keypair()
    body = EVENTS_BODY % (format_time(started), format_time(time.time() + 1), name)
    response = postman_send(http, mock["url"], "events", body, keypair)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["page"] == {"total": 12, "pSize": 10, "pIndex": 1}
    assert [event["n"] for event in page["data"]] == [10, 11]
    assert {(e["tenant_id"], e["community_id"], e["eventName"]) for e in page["data"]} == {(TENANT, COMMUNITY, name)}


def test_the_postman_metrics_request_counts(mock: dict[str, Any]) -> None:
    http = mock["http"]
    at = format_time(time.time() - 3600)
    before = postman_send(http, mock["url"], "metrics", METRICS_BODY % (at, at), kosmos_crypto.generate_keypair())
    assert before.status_code == 200 and before.json() == {"count": 0}  # from equal to to, as the collection sends
    since = format_time(time.time() - 60)
    counted = postman_send(
        http, mock["url"], "metrics", METRICS_BODY % (since, format_time(time.time())), kosmos_crypto.generate_keypair()
    )
    assert counted.status_code == 200 and counted.json()["count"] >= 1  # the Node flow's E_LOGIN_SUCCEEDED


def test_the_postman_request_with_an_unfilled_license_gets_the_documented_refusal(mock: dict[str, Any]) -> None:
    """The collection's request sent with its placeholder `licensekey: <API Key>`: 'Bad/Missing License Key'."""
    http, keypair = mock["http"], kosmos_crypto.generate_keypair()
    environment = postman_pre_request(http, mock["url"], keypair)
    path = f"/reports/tenant/{environment['tenantId']}/community/{environment['communityId']}/metrics"
    headers = {"licensekey": "<API Key>", "publicKey": keypair.public_key, "requestid": environment["requestid"]}
    at = format_time(time.time() - 60)
    response = http.post(mock["url"] + path, content=METRICS_BODY % (at, at), headers=headers)
    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "This header can't be decrypted", "param": "licensekey"}]}
    response = http.post(mock["url"] + path, json={"metricsName": "M_GT_SUCCESSFUL_AUTHENTICATIONS"}, headers={})
    assert response.json() == {"errors": [{"message": "This header should not be empty", "param": "publickey"}]}


# --- the 10Duke event-data-reader ---------------------------------------------------------------------------


def reader_read(http: httpx.Client, get_endpoint_url: str, feed: str, private_pem: str) -> list[dict[str, Any]]:
    """``event-data-reader <url> <feed> -k key.pem``: RS256 bearer, 500 a page, the items found by scanning the text."""
    now = int(time.time())
    token = jws.sign_bearer({feed: True, "iat": now, "exp": now + 86400}, private_pem, kid="reader-thumbprint")
    url = get_endpoint_url.rstrip("/") + "/" + feed
    query, events = "?maxEventCount=500", []
    for _ in range(100):
        text = http.get(url + query, headers={"Authorization": f"Bearer {token}"}).text
        end = text.rfind("}", 0, text.rfind('"instruction"')) + 1
        start = text.find("{", text.find('"instruction"'))
        if end - start <= 2:
            break
        events += json.loads("[" + text[start:end] + "]")
        newer_start = text.find("{", end)
        newer = json.loads(text[newer_start : text.find("}", newer_start) + 1])
        after = parse_qs(urlsplit("http://" + newer["url"]).query).get("after")
        if not after:
            break
        query = f"?maxEventCount=500&after={after[0]}"
    return events


def test_the_10duke_reader_pages_through_a_feed(mock: dict[str, Any]) -> None:
    http, pair = mock["http"], rsa_pair(4096, slot=3)
    feed = f"reader-{uuid.uuid4().hex[:8]}"
    for batch in range(3):
        events = [{"eventType": "login", "eventSourceId": feed, "data": {"n": batch * 400 + i}} for i in range(400)]
        token = jws.sign_jws(events, pair.private_pem)
        response = http.post(mock["url"] + "/put", content=token, headers={"Content-Type": "application/jose"})
        assert response.status_code == 200, response.text
    read = reader_read(http, mock["url"] + "/get", feed, pair.private_pem)
    assert [event["data"]["n"] for event in read] == list(range(1200))


def test_every_call_of_the_flows_found_its_route_and_none_failed_the_server(mock: dict[str, Any]) -> None:
    journal = mock["http"].get(mock["url"] + "/__admin/journal?limit=5000").json()
    called = {(entry["method"], entry["path"].split("/")[1]) for entry in journal}
    assert {("GET", "caas"), ("POST", "api"), ("PUT", "events"), ("POST", "reports"), ("GET", "get")} <= called
    assert not [entry for entry in journal if entry["status"] == 404 or entry["status"] >= 500]
