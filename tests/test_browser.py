"""Issue 12: the docs and the inspector, in a real browser (Debian's chromium, driven by Playwright).

The screenshot of the inspector after a refused request is written to docs/admin-ui.png, which the
README shows.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eventclient import KosmosClient, kosmos_crypto
from mockserver import MockServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "admin-ui.png"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed; .ci/run installs it with apt"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer() as mock:
        yield mock


def test_docs_render_the_operations_of_both_apis(browser: object, server: MockServer) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{server.url}/docs")
    page.wait_for_selector("text=createEvent", timeout=20_000)
    assert page.locator(".opblock").count() > 5
    page.goto(f"{server.url}/docs?spec=10Duke%20Event%20Data%20API")
    page.wait_for_selector("text=putEvents", timeout=20_000)
    assert page.locator("text=getSourceFeed").count() >= 1
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.reload()
    page.wait_for_selector("text=putEvents", timeout=20_000)
    assert all(url.startswith(server.url) for url in requests), requests  # offline: nothing from a CDN
    page.close()


def test_the_inspector_shows_a_refused_request_and_why_without_a_reload(browser: object, server: MockServer) -> None:
    record = server.create_license("community", tenantId="acme", communityId="main", tag="inspector demo")
    license_key, license_id = record["licenseKey"], record["keyId"]
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page.goto(f"{server.url}/__admin/ui")
    page.wait_for_selector("#updated:has-text('updated')", timeout=20_000)
    caller = kosmos_crypto.generate_keypair()
    service_key = httpx.get(f"{server.url}/events/publickeys").json()["publicKey"]
    key = kosmos_crypto.shared_key(caller.private_key, service_key)

    def put(community: str) -> httpx.Response:
        request_id = json.dumps({"ts": int(time.time()), "uuid": str(uuid.uuid4()), "appid": "demo-app"})
        headers = {
            "publickey": caller.public_key,
            "licensekey": kosmos_crypto.encrypt(license_key, key),
            "requestid": kosmos_crypto.encrypt(request_id, key),
        }
        body = {"data": kosmos_crypto.encrypt('{"type": "login"}', key)}
        return httpx.put(
            f"{server.url}/events/tenant/acme/community/{community}/event/E_LOGIN", headers=headers, json=body
        )

    assert put("main").status_code == 200
    assert put("other").status_code == 403  # a community license, used on another community
    row = page.locator("#requests tr.refused", has_text="/community/other/")
    row.wait_for(timeout=10_000)
    text = row.inner_text()
    assert "403" in text and "not allowed for community other" in text and "demo-app" in text
    assert license_id in text  # which license it was, by key id
    assert license_key not in page.content()  # the key itself is never shown
    page.locator("#kosmos-events td", has_text="E_LOGIN").first.wait_for(timeout=10_000)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.close()


def test_the_inspector_shows_which_fault_rule_fired_and_the_webhook_attempts(
    browser: object, server: MockServer
) -> None:
    rule = server.add_fault(path="^/events/publickeys$", status=503, times=1)
    hook = httpx.post(
        f"{server.url}/__admin/webhooks", json={"url": "http://127.0.0.1:9/down", "secret": "s", "api": "kosmos"}
    ).json()
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page.goto(f"{server.url}/__admin/ui")
    page.wait_for_selector("#updated:has-text('updated')", timeout=20_000)
    assert httpx.get(f"{server.url}/events/publickeys").status_code == 503
    refused = page.locator("#requests tr.refused", has_text="/events/publickeys")
    refused.wait_for(timeout=10_000)
    assert rule["id"] in refused.inner_text() and "503" in refused.inner_text()
    fault_row = page.locator("#faults tr", has_text=rule["id"])
    fault_row.wait_for(timeout=10_000)
    assert "status 503" in fault_row.inner_text()
    page.locator("#faults tr", has_text=rule["id"]).locator("td.fired", has_text="1").wait_for(timeout=10_000)
    license_key = server.create_license()["licenseKey"]  # a signed event for the webhook to (fail to) deliver
    with KosmosClient(server.url, license_key) as client:
        client.put_event("t", "c", "E_HOOKED", {"type": "event"})
    hook_row = page.locator("#webhooks tr", has_text=hook["id"])
    hook_row.locator("td.last", has_text="will retry").wait_for(timeout=10_000)
    assert "api=kosmos" in hook_row.inner_text()
    page.close()
