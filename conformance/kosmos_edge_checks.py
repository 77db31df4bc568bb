"""1Kosmos checks at the edges of documented rules: a replay's precedence, request id units, ids' case."""

from __future__ import annotations

import time

from conformance.core import CheckFailed, Context, check, expect_refusal
from conformance.kosmos_checks import accepted, nothing_stored
from conformance.kosmos_probe import Caller, event_name, kosmos, stored

API = "kosmos"
COMMUNITY = ("kosmos.licenses.community",)


def _community_caller(ctx: Context) -> Caller:
    return Caller(ctx, kosmos(ctx).licenses["community"])


@check(
    "kosmos.replay_before_forbidden",
    API,
    "a request id used once, sent again where the license does not reach (another community): 401 as a replay, not 403",
    family="request ids",
    operations=("createEvent",),
    needs=COMMUNITY,
)
def replay_before_forbidden(ctx: Context) -> None:
    target, caller = kosmos(ctx), _community_caller(ctx)
    name = event_name(ctx, "replay_before_403")
    request_id = caller.request_id()
    accepted(caller.put(name, {"type": "conformance"}, headers=caller.headers(request_id)), "the first use")
    other = target.other_community or f"conformance-other-{ctx.run_id}"
    again = caller.put(name, {"type": "conformance"}, community=other, headers=caller.headers(request_id))
    expect_refusal(again, "the same request id, to a community the license does not reach", 401)
    if len(stored(ctx, name)) != 1:
        raise CheckFailed("the replay was stored")


@check(
    "kosmos.request_id_ts_seconds",
    API,
    "a request id whose ts is now in milliseconds (not seconds): 401 (far in the future), nothing stored; in "
    "seconds: taken",
    family="request ids",
    operations=("createEvent",),
    needs=("kosmos.licenses.community|tenant|service|system",),
)
def request_id_ts_seconds(ctx: Context) -> None:
    caller = Caller(ctx, kosmos(ctx).writer() or "")
    name = event_name(ctx, "ts_ms")
    milliseconds = caller.request_id(ts=int(time.time() * 1000))
    expect_refusal(caller.put(name, {"type": "conformance"}, headers=caller.headers(milliseconds)), "ts in ms", 401)
    nothing_stored(ctx, name, "ts in milliseconds")
    accepted(caller.put(name + "_OK", {"type": "conformance"}), "ts in seconds")


@check(
    "kosmos.ids_case_sensitive",
    API,
    "tenant and community ids are exact: a community license cannot write its community id in another case "
    "(403), nothing stored there",
    family="isolation",
    operations=("createEvent",),
    needs=COMMUNITY,
)
def ids_case_sensitive(ctx: Context) -> None:
    target, caller = kosmos(ctx), _community_caller(ctx)
    swapped = target.community.swapcase()
    if swapped == target.community:
        swapped = target.community + "X"
    name = event_name(ctx, "id_case")
    response = caller.put(name, {"type": "conformance"}, community=swapped)
    expect_refusal(response, f"a write to community {swapped!r} (the license's is {target.community!r})", 403)
    reader = next((target.licenses[r] for r in ("system", "service", "tenant") if r in target.licenses), None)
    if reader and stored(ctx, name, community=swapped, license_key=reader):
        raise CheckFailed(f"an event was stored under community {swapped!r}")


MAX_DEPTH = 32
"""The nesting every JSON document may reach (the README: a body, a decrypted header or event)."""


def nested(depth: int) -> dict[str, object]:
    """An event object nested exactly ``depth`` levels (itself the first)."""
    event: dict[str, object] = {"type": "conformance"}
    inner = event
    for _ in range(depth - 1):
        inner["d"] = {}
        inner = inner["d"]  # type: ignore[assignment]
    return event


@check(
    "kosmos.nesting_limit_exact",
    API,
    "an event nested 32 levels is stored, 33 levels is 400 and not stored, encrypted and plain alike (a plain "
    "body counts its own level: data at 31 levels taken, at 32 refused)",
    family="bodies",
    operations=("createEvent",),
    needs=("kosmos.licenses.community|tenant|service|system",),
)
def nesting_limit_exact(ctx: Context) -> None:
    caller = Caller(ctx, kosmos(ctx).writer() or "")
    for how, deepest, data_of in (
        ("encrypted", MAX_DEPTH, caller.seal),
        ("plain", MAX_DEPTH - 1, lambda event: event),
    ):
        name = event_name(ctx, f"nesting_{how}")
        expect_refusal(caller.put(name, None, data=data_of(nested(deepest + 1))), f"{how}: one level too deep", 400)
        nothing_stored(ctx, name, f"{how}, one level too deep")
        accepted(caller.put(name + "_OK", None, data=data_of(nested(deepest))), f"{how}: exactly at the limit")
        if len(stored(ctx, name + "_OK")) != 1:
            raise CheckFailed(f"{how}: the event at the nesting limit was not stored once")
