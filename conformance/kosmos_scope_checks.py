"""1Kosmos checks of authorisation by authLevel, tenant isolation, stored events, queries and key reset."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from conformance.core import CheckFailed, Context, check, expect_refusal, expect_reports_errors, expect_status
from conformance.kosmos_checks import accepted, nothing_stored, stored_once
from conformance.kosmos_probe import FROM_REFUSED, Caller, event_name, kosmos, query_time, service_public_key, stored

API = "kosmos"
KEY_OPS = ("getServiceKeys", "resetServiceKey")
QUERY_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")


def _role(ctx: Context, role: str) -> Caller:
    return Caller(ctx, kosmos(ctx).licenses[role])


def _other_tenant(ctx: Context) -> str:
    return kosmos(ctx).other_tenant or f"conformance-other-{ctx.run_id}"


def _other_community(ctx: Context) -> str:
    return kosmos(ctx).other_community or f"conformance-other-{ctx.run_id}"


def _may_write(
    ctx: Context, caller: Caller, what: str, tenant: str | None = None, community: str | None = None
) -> None:
    name = event_name(ctx, what.replace(" ", "_"))
    accepted(caller.put(name, {"type": "conformance"}, tenant=tenant, community=community), what)
    expect_status(caller.query(tenant, community, query={"event_name": name}), f"{what}: reading it back", (200,))


def _may_not(ctx: Context, caller: Caller, what: str, tenant: str | None = None, community: str | None = None) -> None:
    name = event_name(ctx, what.replace(" ", "_"))
    expect_refusal(caller.put(name, {"type": "conformance"}, tenant=tenant, community=community), f"{what}: write", 403)
    expect_refusal(caller.query(tenant, community, query={"event_name": name}), f"{what}: query", 403)
    if reader := _any_reader(ctx):  # only a wide license can look into another tenant or community
        nothing_stored(ctx, name, what, tenant=tenant, community=community, license_key=reader)


def _any_reader(ctx: Context) -> str | None:
    licenses = kosmos(ctx).licenses
    return licenses.get("system") or licenses.get("service")


def _key_admin_refused(ctx: Context, caller: Caller, role: str) -> None:
    expect_refusal(ctx.http.get(ctx.url("/events/servicekeys"), headers=caller.headers()), f"{role}: servicekeys", 403)
    url = ctx.url(f"/events/servicekey/conformance-none-{ctx.run_id}")
    expect_refusal(ctx.http.delete(url, headers=caller.headers()), f"{role}: resetting a service key", 403)


@check(
    "kosmos.authz_system",
    API,
    "a system license writes and reads any tenant, lists service keys; resetting an unknown key: 404",
    family="authorisation",
    operations=("createEvent", "queryEvents", *KEY_OPS),
    needs=("kosmos.licenses.system",),
)
def authz_system(ctx: Context) -> None:
    caller = _role(ctx, "system")
    _may_write(ctx, caller, "system own tenant")
    _may_write(ctx, caller, "system other tenant", tenant=_other_tenant(ctx))
    # path values that look like numbers or booleans are still names
    _may_write(ctx, caller, "system numeric tenant", tenant=str(int(ctx.run_id, 16)), community="true")
    response = ctx.http.get(ctx.url("/events/servicekeys"), headers=caller.headers())
    expect_status(response, "system: GET servicekeys", (200,))
    keys = response.json()
    if not isinstance(keys, list) or service_public_key(ctx) not in [k.get("publicKey") for k in keys]:
        raise CheckFailed("GET servicekeys does not list the key /events/publickeys serves", response)
    url = ctx.url(f"/events/servicekey/conformance-none-{ctx.run_id}")
    expect_refusal(ctx.http.delete(url, headers=caller.headers()), "system: resetting an unknown key id", 404)


@check(
    "kosmos.authz_service",
    API,
    "a service license writes and reads any tenant and community; service-key administration: 403",
    family="authorisation",
    operations=("createEvent", "queryEvents", *KEY_OPS),
    needs=("kosmos.licenses.service",),
)
def authz_service(ctx: Context) -> None:
    caller = _role(ctx, "service")
    _may_write(ctx, caller, "service own tenant")
    _may_write(ctx, caller, "service other tenant", tenant=_other_tenant(ctx))
    _key_admin_refused(ctx, caller, "service")


@check(
    "kosmos.authz_tenant",
    API,
    "a tenant license writes and reads every community of its tenant; another tenant and key administration: 403",
    family="authorisation",
    operations=("createEvent", "queryEvents", *KEY_OPS),
    needs=("kosmos.licenses.tenant",),
)
def authz_tenant(ctx: Context) -> None:
    caller = _role(ctx, "tenant")
    _may_write(ctx, caller, "tenant own community")
    _may_write(ctx, caller, "tenant other community", community=_other_community(ctx))
    _may_not(ctx, caller, "tenant license on another tenant", tenant=_other_tenant(ctx))
    _key_admin_refused(ctx, caller, "tenant")


@check(
    "kosmos.authz_community",
    API,
    "a community license writes and reads its community only; another community, tenant, key administration: 403",
    family="authorisation",
    operations=("createEvent", "queryEvents", *KEY_OPS),
    needs=("kosmos.licenses.community",),
)
def authz_community(ctx: Context) -> None:
    caller = _role(ctx, "community")
    _may_write(ctx, caller, "community own community")
    _may_not(ctx, caller, "community license on another community", community=_other_community(ctx))
    _may_not(ctx, caller, "community license on another tenant", tenant=_other_tenant(ctx))
    _may_not(ctx, caller, "community license on a community sorting before it", community=f"0-other-{ctx.run_id}")
    _key_admin_refused(ctx, caller, "community")


@check(
    "kosmos.tenant_isolation",
    API,
    "another tenant's license cannot write or read this tenant (403), and its events never show in this tenant",
    family="isolation",
    operations=("createEvent", "queryEvents"),
    needs=("kosmos.licenses.other_tenant", "kosmos.other_tenant", "kosmos.licenses.community|tenant|service|system"),
)
def tenant_isolation(ctx: Context) -> None:
    target = kosmos(ctx)
    stranger = _role(ctx, "other_tenant")
    name = event_name(ctx, "isolation_tenant")
    accepted(stranger.put(name, {"type": "conformance"}, tenant=target.other_tenant), "other tenant's own write")
    _may_not(ctx, stranger, "other tenant's license on this tenant")
    if stored(ctx, name):
        raise CheckFailed("an event written to another tenant shows in this tenant's query")
    if len(stored(ctx, name, tenant=target.other_tenant, license_key=target.licenses["other_tenant"])) != 1:
        raise CheckFailed("the other tenant cannot read back its own event")


@check(
    "kosmos.community_isolation",
    API,
    "events written to another community never show in this community's query, and the reverse",
    family="isolation",
    operations=("createEvent", "queryEvents"),
    needs=("kosmos.other_community", "kosmos.licenses.tenant|service|system"),
)
def community_isolation(ctx: Context) -> None:
    target = kosmos(ctx)
    wide = Caller(ctx, target.licenses.get("tenant") or _any_reader(ctx) or "")
    name = event_name(ctx, "isolation_community")
    accepted(wide.put(name, {"type": "conformance", "where": "other"}, community=target.other_community), "write")
    accepted(wide.put(name, {"type": "conformance", "where": "own"}), "write")
    for community, where in ((None, "own"), (target.other_community, "other")):
        found = [e.get("where") for e in stored(ctx, name, community=community, license_key=wide.license_key)]
        if found != [where]:
            raise CheckFailed(f"the {where} community's query returned events from {found}, expected only its own")


# --- stored events and the query ------------------------------------------------------------------


@check(
    "kosmos.stored_fields",
    API,
    "stored events carry tenant_id, community_id, eventName, event_ts (ms), epoch_time (s), timestamp, appid,"
    " request_id",
    family="stored events",
    operations=("createEvent", "queryEvents"),
    needs=("kosmos.licenses.community|tenant|service|system",),
)
def stored_fields(ctx: Context) -> None:
    target = kosmos(ctx)
    caller = Caller(ctx, target.writer() or "", app_id=f"conformance-{ctx.run_id}")
    name, request_id = event_name(ctx, "fields"), caller.request_id()
    before = time.time()
    accepted(
        caller.put(name, {"type": "conformance", "keep": {"a": [1, 2]}}, headers=caller.headers(request_id)), "put"
    )
    after = time.time()
    event = stored_once(ctx, name, "server fields")
    expected = {
        "type": "conformance",
        "keep": {"a": [1, 2]},
        "tenant_id": target.tenant,
        "community_id": target.community,
        "eventName": name,
        "appid": caller.app_id,
        "request_id": request_id["uuid"],
    }
    if wrong := {k: event.get(k) for k, v in expected.items() if event.get(k) != v}:
        raise CheckFailed(f"stored fields differ from what was sent: {wrong}, expected {expected}")
    slack = 300  # the server's clock may differ from the kit's
    if not (
        isinstance(event.get("event_ts"), int)
        and (before - slack) * 1000 <= event["event_ts"] <= (after + slack) * 1000
    ):
        raise CheckFailed(f"event_ts {event.get('event_ts')!r} is not now in epoch milliseconds")
    epoch = event.get("epoch_time")
    if not (isinstance(epoch, int | float) and before - slack <= epoch <= after + slack):
        raise CheckFailed(f"epoch_time {epoch!r} is not now in epoch seconds")
    if not QUERY_TIME.match(str(event.get("timestamp"))) or abs(_parse(event["timestamp"]) - epoch) >= 1:
        raise CheckFailed(f"timestamp {event.get('timestamp')!r} is not epoch_time as 'YYYY-MM-DD HH:MM:SS.SSS' UTC")
    moment = int(time.time()) - 86400 + 0.25
    name = event_name(ctx, "fields_given")
    accepted(caller.put(name, {"type": "conformance", "epoch_time": moment}), "put with epoch_time")
    event = stored_once(ctx, name, "given epoch_time")
    if event.get("event_ts") != round(moment * 1000) or event.get("timestamp") != query_time(moment):
        raise CheckFailed(
            f"with epoch_time {moment}: event_ts {event.get('event_ts')}, timestamp {event.get('timestamp')}"
        )
    name = event_name(ctx, "fields_timestamp")
    accepted(caller.put(name, {"type": "conformance", "timestamp": query_time(moment)}), "put with timestamp")
    if stored_once(ctx, name, "given timestamp").get("event_ts") != round(moment * 1000):
        raise CheckFailed("event_ts does not follow the event's own timestamp")
    name = event_name(ctx, "fields_offset")
    iso = datetime.fromtimestamp(moment + 7200, UTC).strftime("%Y-%m-%dT%H:%M:%S.250+02:00")
    accepted(caller.put(name, {"type": "conformance", "timestamp": iso}), "put with an ISO timestamp and offset")
    event = stored_once(ctx, name, "ISO timestamp")
    if event.get("event_ts") != round(moment * 1000) or event.get("epoch_time") != moment:
        raise CheckFailed(f"timestamp {iso}: event_ts {event.get('event_ts')}, epoch_time {event.get('epoch_time')}")
    name = event_name(ctx, "fields_1969")
    accepted(caller.put(name, {"type": "conformance", "timestamp": "1969-12-31 23:59:59.500"}), "put before 1970")
    event = stored_once(ctx, name, "a timestamp before 1970")
    if (event.get("event_ts"), event.get("epoch_time")) != (-500, -0.5):
        raise CheckFailed(f"timestamp 1969-12-31 23:59:59.500: event_ts {event.get('event_ts')}, epoch_time "
                          f"{event.get('epoch_time')}; expected -500 and -0.5")  # fmt: skip


def _parse(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


def _series(ctx: Context, what: str, count: int = 5) -> tuple[Caller, str, list[float]]:
    """``count`` events one minute apart a day ago, sent in shuffled order; their times, in order."""
    caller = Caller(ctx, kosmos(ctx).writer() or "")
    name, base = event_name(ctx, what), (int(time.time()) - 86400) // 60 * 60
    times = [base + 60 * n for n in range(count)]
    for n in (3, 0, 4, 1, 2)[:count] if count == 5 else range(count):
        accepted(caller.put(name, {"type": "conformance", "n": n, "epoch_time": times[n]}), f"{what}: put")
    return caller, name, times


def _page(caller: Caller, what: str, **body: Any) -> dict[str, Any]:
    response = caller.query(**body)
    expect_status(response, what, (200,))
    page: dict[str, Any] = response.json()
    return page


def _ns(page: dict[str, Any]) -> list[Any]:
    return [e.get("n") for e in page.get("data", [])]


@check(
    "kosmos.query_paging",
    API,
    "pages count from pIndex 0 in pSize steps, oldest event first, with the page echoed and the total of all matches",
    family="query",
    operations=("queryEvents",),
    needs=("kosmos.licenses.community|tenant|service|system",),
)
def query_paging(ctx: Context) -> None:
    caller, name, _ = _series(ctx, "paging")
    where = {"query": {"event_name": name}}
    for index, expected in enumerate(([0, 1], [2, 3], [4], [])):
        page = _page(caller, f"page {index}", pSize=2, pIndex=index, **where)
        if _ns(page) != expected:
            raise CheckFailed(f"pSize 2, pIndex {index}: events n={_ns(page)}, expected {expected} (oldest first)")
        if page.get("page") != {"total": 5, "pSize": 2, "pIndex": index}:
            raise CheckFailed(f"pIndex {index}: page is {page.get('page')}, expected total 5, pSize 2, pIndex {index}")
    page = _page(caller, "default page", **where)
    if page.get("page") != {"total": 5, "pSize": 25, "pIndex": 0} or _ns(page) != [0, 1, 2, 3, 4]:
        raise CheckFailed(f"without pSize/pIndex: page {page.get('page')}, n={_ns(page)}; expected pSize 25, pIndex 0")


@check(
    "kosmos.query_time_bounds",
    API,
    "from and to are inclusive; a from over 90 days old or in the future, a to before from: 400, every error "
    "at once, in the vendor's words",
    family="query",
    operations=("queryEvents",),
    needs=("kosmos.licenses.community|tenant|service|system",),
)
def query_time_bounds(ctx: Context) -> None:
    caller, name, times = _series(ctx, "bounds")
    where = {"query": {"event_name": name}}
    cases = [
        ({"from": query_time(times[1])}, [1, 2, 3, 4]),
        ({"to": query_time(times[3])}, [0, 1, 2, 3]),
        ({"from": query_time(times[2]), "to": query_time(times[2] + 0.001)}, [2]),
        ({"from": query_time(times[2] - 0.001), "to": query_time(times[2])}, [2]),
        ({"from": query_time(times[1] + 0.001), "to": query_time(times[3] - 0.001)}, [2]),
    ]
    for bounds, expected in cases:
        if _ns(page := _page(caller, f"bounds {bounds}", **bounds, **where)) != expected:
            raise CheckFailed(f"{bounds}: n={_ns(page)}, expected {expected} (bounds are inclusive)")
    too_old, after = FROM_REFUSED, ("to", "Date 'to' must be after 'from'")
    refused = [
        ({"from": query_time(time.time() - 90.5 * 86400)}, [too_old]),
        ({"from": query_time(time.time() + 3600)}, [too_old]),
        ({"from": query_time(times[3]), "to": query_time(times[1])}, [after]),
        (
            {"from": query_time(time.time() - 100 * 86400), "to": query_time(time.time() - 101 * 86400)},
            [too_old, after],
        ),
    ]
    for bounds, expected_errors in refused:
        expect_reports_errors(caller.query(**bounds, **where), f"query {bounds}", expected_errors)
    _page(caller, "from 89 days ago", **{"from": query_time(time.time() - 89 * 86400)}, **where)


@check(
    "kosmos.query_event_name",
    API,
    "query.event_name returns only events of that name, and total counts only them",
    family="query",
    operations=("queryEvents",),
    needs=("kosmos.licenses.community|tenant|service|system",),
)
def query_event_name(ctx: Context) -> None:
    caller, name, _ = _series(ctx, "name_a", 2)
    other = event_name(ctx, "name_b")
    accepted(caller.put(other, {"type": "conformance", "n": 9}), "put")
    page = _page(caller, "filtered", query={"event_name": name})
    if sorted(_ns(page)) != [0, 1] or page.get("page", {}).get("total") != 2:
        raise CheckFailed(f"event_name filter: n={_ns(page)}, total {page.get('page', {}).get('total')}; expected 2")
    if {e.get("eventName") for e in page.get("data", [])} != {name}:
        raise CheckFailed("the filtered page holds events of another name")


# --- service key reset (destructive) ----------------------------------------------------------------


@check(
    "kosmos.service_key_reset",
    API,
    "resetting the service key: a new key is served and works; callers of the old key are refused (400)",
    family="service keys",
    operations=KEY_OPS,
    needs=("kosmos.licenses.system",),
    destructive=True,
)
def service_key_reset(ctx: Context) -> None:
    admin, old_caller = _role(ctx, "system"), Caller(ctx, kosmos(ctx).writer() or "")
    accepted(old_caller.put(event_name(ctx, "before_reset"), {"type": "x"}), "a caller before the reset")
    response = ctx.http.get(ctx.url("/events/servicekeys"), headers=admin.headers())
    expect_status(response, "GET servicekeys", (200,))
    old_key = service_public_key(ctx)
    key_id = next((k.get("keyId") for k in response.json() if k.get("publicKey") == old_key), None)
    if key_id is None:
        raise CheckFailed("GET servicekeys does not list the served key", response)
    response = ctx.http.delete(ctx.url(f"/events/servicekey/{key_id}"), headers=admin.headers())
    expect_status(response, "DELETE servicekey", (200,))
    new_key = service_public_key(ctx, fresh=True)
    if new_key == old_key or response.json().get("publicKey") != new_key:
        raise CheckFailed("after the reset /events/publickeys does not serve the new key the reset returned", response)
    name = event_name(ctx, "after_reset_old")
    expect_refusal(old_caller.put(name, {"type": "x"}), "a caller still using the old key", 400)
    accepted(Caller(ctx, old_caller.license_key).put(event_name(ctx, "after_reset_new"), {"type": "x"}), "new key")
    nothing_stored(ctx, name, "old key after reset")
