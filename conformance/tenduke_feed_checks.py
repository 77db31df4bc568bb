"""10Duke ``/get`` checks: exclusive bounds, newest, instructions, object feeds, claims and token times."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from conformance import wire
from conformance.core import CheckFailed, Context, check, expect_refusal, expect_status
from conformance.tenduke_checks import (
    NONE_HEADER,
    accepted_put,
    events,
    feed_name,
    feed_path,
    get,
    page,
    read_all,
    sign,
    stranger,
    token,
)

API = "tenduke"
GET = ("getSourceFeed",)
NEEDS = ("tenduke.client_key",)
EVERY_FEED = wire.b64url(b'{"*":true}')
MAX_CURSOR = 2**63 - 1  # cursors are int64 (the spec's format)


def _three(ctx: Context, what: str) -> tuple[str, list[int]]:
    """A fresh feed holding three events; their eventReceived values."""
    feed = feed_name(ctx, what)
    accepted_put(ctx, sign(ctx, events(feed, 3)), "three events")
    received = [int(e["eventReceived"]) for e in read_all(ctx, feed)]
    if len(received) != 3:
        raise CheckFailed(f"the feed holds {len(received)} events after a put of 3")
    return feed, received


def _received(body: dict[str, Any]) -> list[int]:
    return [int(e["eventReceived"]) for e in body["objects"][1:-1]]


def _ns(body: dict[str, Any]) -> list[Any]:
    return [e.get("n") for e in body["objects"][1:-1]]


@check(
    "tenduke.feed_bounds_exclusive",
    API,
    "after and before are exclusive bounds, alone and together",
    family="feed",
    operations=GET,
    needs=NEEDS,
)
def feed_bounds_exclusive(ctx: Context) -> None:
    feed, (r0, r1, r2) = _three(ctx, "bounds")
    cases = {
        f"after={r0}": [1, 2],
        f"before={r2}": [0, 1],
        f"after={r0}&before={r2}": [1],
        f"after={r1 - 1}&before={r1 + 1}": [1],
        f"after={r2}": [],
        f"before={r0}": [],
    }
    for query, expected in cases.items():
        if _ns(body := page(ctx, feed, query)) != expected:
            raise CheckFailed(f"?{query}: n={_ns(body)}, expected {expected} (bounds are exclusive)")


@check(
    "tenduke.feed_newest",
    API,
    "newest=true gives the newest page of the window; its older link pages backwards",
    family="feed",
    operations=GET,
    needs=NEEDS,
)
def feed_newest(ctx: Context) -> None:
    feed, (r0, _, r2) = _three(ctx, "newest")
    body = page(ctx, feed, "newest=true&maxEventCount=2")
    if _ns(body) != [1, 2]:
        raise CheckFailed(f"newest=true&maxEventCount=2: n={_ns(body)}, expected [1, 2]")
    older = body["objects"][0]["url"].split("?", 1)[1]
    if _ns(page(ctx, feed, f"{older}&maxEventCount=2")) != [0]:
        raise CheckFailed(f"the older link of the newest page ({older}) does not lead to the first event")
    if _ns(page(ctx, feed, f"newest=true&maxEventCount=1&before={r2}")) != [1]:
        raise CheckFailed("newest=true does not respect before")
    if _ns(page(ctx, feed, f"newest=true&after={r0}")) != [1, 2]:
        raise CheckFailed("newest=true does not respect after")
    if _ns(page(ctx, feed, "newest=false&maxEventCount=2")) != [0, 1]:
        raise CheckFailed("newest=false does not give the oldest page")


@check(
    "tenduke.feed_instructions",
    API,
    "instructions: older ?before=<first>, newer ?after=<last>, count -1 when events lie that way and 0 when none",
    family="feed",
    operations=GET,
    needs=NEEDS,
)
def feed_instructions(ctx: Context) -> None:
    feed, (r0, r1, r2) = _three(ctx, "instructions")
    path = feed_path(feed)
    body = page(ctx, feed, f"after={r0}&maxEventCount=1")
    older, newer = body["objects"][0], body["objects"][-1]
    expected = (
        {"url": f"{path}?before={r1}", "instruction": "older", "count": -1},
        {"url": f"{path}?after={r1}", "instruction": "newer", "count": -1},
    )
    if (older, newer) != expected:
        raise CheckFailed(f"middle page instructions {older}, {newer}; expected {expected}")
    if body.get("updateUrl") != newer["url"]:
        raise CheckFailed(f"updateUrl {body.get('updateUrl')!r} is not the newer link {newer['url']!r}")
    last = page(ctx, feed, f"after={r1}")
    if [last["objects"][0].get("count"), last["objects"][-1].get("count")] != [-1, 0]:
        raise CheckFailed(f"last page counts: older {last['objects'][0]}, newer {last['objects'][-1]}; expected -1, 0")
    zero = page(ctx, feed, "before=0")  # nothing lies before 0: the newer link must stay a valid cursor
    page(ctx, feed, zero["objects"][-1]["url"].split("?", 1)[1])
    before_all = page(ctx, feed, f"before={r0}")
    forward = before_all["objects"][-1]["url"].split("?", 1)[1]
    if _received(page(ctx, feed, forward))[:1] != [r0]:
        raise CheckFailed(f"the newer link of the empty page before the first event ({forward}) skips it")
    first = page(ctx, feed, f"before={r1}")
    if [first["objects"][0].get("count"), first["objects"][-1].get("count")] != [0, -1]:
        raise CheckFailed(
            f"first page counts: older {first['objects'][0]}, newer {first['objects'][-1]}; expected 0, -1"
        )
    empty = page(ctx, feed, f"after={r2}")
    if empty["objects"][-1].get("url") != f"{path}?after={r2}" or empty["objects"][-1].get("count") != 0:
        raise CheckFailed(f"past the end, the newer link must stay ?after={r2} with count 0: {empty['objects'][-1]}")
    back = page(ctx, feed, empty["objects"][0]["url"].split("?", 1)[1])
    if [int(e["eventReceived"]) for e in back["objects"][1:-1]][-1:] != [r2]:
        raise CheckFailed("the older link of the page past the end does not lead back to the last event")
    edge = page(ctx, feed, f"after={MAX_CURSOR}")
    cursors = [int(o["url"].rsplit("=", 1)[1]) for o in (edge["objects"][0], edge["objects"][-1])]
    if not all(0 <= c <= MAX_CURSOR for c in cursors) or r2 not in _received(
        page(ctx, feed, edge["objects"][0]["url"].split("?", 1)[1])
    ):
        raise CheckFailed(f"after={MAX_CURSOR}: instruction cursors {cursors} leave int64, or older does not lead back")


@check(
    "tenduke.feed_uri",
    API,
    "a page's uri is the page itself: the feed's path and the query asked for; reading it gives the same events",
    family="feed",
    operations=GET,
    needs=NEEDS,
)
def feed_uri(ctx: Context) -> None:
    feed, (r0, _, r2) = _three(ctx, "uri")
    path = feed_path(feed)
    for query in (f"after={r0}&maxEventCount=1", f"before={r2}", ""):
        body = page(ctx, feed, query)
        uri = urlsplit(str(body.get("uri", "")))
        if uri.path != path or parse_qs(uri.query) != parse_qs(query):
            raise CheckFailed(f"GET {path}?{query}: uri {body.get('uri')!r} is not this page ({path}?{query})")
        if _received(page(ctx, feed, uri.query)) != _received(body):
            raise CheckFailed(f"reading the uri {body.get('uri')!r} again gives other events than the page it names")


@check(
    "tenduke.object_feed",
    API,
    "/get/<type>/<id> holds exactly the events about that object, with type and id each in its place",
    family="feed",
    operations=("putEvents", "getObjectFeed"),
    needs=NEEDS,
)
def object_feed(ctx: Context) -> None:
    feed, object_id = feed_name(ctx, "objects"), f"u-{ctx.run_id}"
    batch = [
        *events(feed, 2, eventObjectType="conformance-user", eventObjectId=object_id),
        {**events(feed)[0], "n": 2, "eventObjectType": "conformance-user", "eventObjectId": object_id + "-x"},
        {**events(feed)[0], "n": 3, "eventObjectType": object_id, "eventObjectId": "conformance-user"},
        {**events(feed)[0], "n": 4},
    ]
    accepted_put(ctx, sign(ctx, batch), "events about objects")
    object_name = f"conformance-user/{object_id}"
    if _ns(body := page(ctx, object_name, "after=0")) != [0, 1]:
        raise CheckFailed(f"/get/{object_name} returned n={_ns(body)}, expected only [0, 1]")
    digits = str(int(ctx.run_id, 16))  # path values that look like numbers or booleans stay strings
    accepted_put(ctx, sign(ctx, events(feed_name(ctx, "objects_typed"), eventObjectType="true", eventObjectId=digits)),
                 "an object of type 'true' and a numeric id")  # fmt: skip
    if len(page(ctx, f"true/{digits}", "after=0")["objects"]) != 3:
        raise CheckFailed(f"/get/true/{digits} does not hold its one event")
    if [e.get("n") for e in read_all(ctx, feed)] != [0, 1, 2, 3, 4]:
        raise CheckFailed("the source feed does not hold all five events")


@check(
    "tenduke.feed_claim_exact",
    API,
    "a token reads a feed only with a claim of exactly its name set to true, or '*': true; otherwise 403",
    family="tokens",
    operations=("getSourceFeed", "getObjectFeed"),
    needs=NEEDS,
)
def feed_claim_exact(ctx: Context) -> None:
    feed = feed_name(ctx, "claims")
    accepted_put(ctx, sign(ctx, events(feed)), "an event")
    exp = int(time.time()) + 300
    refused = {
        "a prefix of the feed": {feed[:-1]: True},
        "the feed plus a character": {feed + "x": True},
        "the feed set to 'true' (a string)": {feed: "true"},
        "the feed set to 1": {feed: 1},
        "'*' set to 'true' (a string)": {"*": "true"},
        "'*' set to 1": {"*": 1},
        "the feed in other case": {feed.upper(): True},
        "another feed": {feed_name(ctx, "other"): True},
    }
    for what, claims in refused.items():
        expect_refusal(get(ctx, feed_path(feed), token(ctx, {**claims, "exp": exp})), f"a token with {what}", 403)
    for what, claims in {"the feed": {feed: True}, "'*'": {"*": True}}.items():
        expect_status(get(ctx, feed_path(feed), token(ctx, {**claims, "exp": exp})), f"a token with {what}", (200,))
    object_name = f"conformance-user/{ctx.run_id}"
    expect_status(get(ctx, feed_path(object_name), token(ctx, {object_name: True, "exp": exp})), "object claim", (200,))
    for claim in ("conformance-user", ctx.run_id):
        response = get(ctx, feed_path(object_name), token(ctx, {claim: True, "exp": exp}))
        expect_refusal(response, f"an object feed with the claim {claim!r}", 403)


@check(
    "tenduke.token_times",
    API,
    "exp is required and has no leeway, a future nbf is refused (401); nbf in the past and a fresh exp are taken",
    family="tokens",
    operations=GET,
    needs=NEEDS,
)
def token_times(ctx: Context) -> None:
    feed, now = feed_name(ctx, "times"), int(time.time())
    refused = {
        "no exp": {feed: True},
        "exp 10 s ago": {feed: True, "exp": now - 10},
        "exp a string": {feed: True, "exp": str(now + 300)},
        "nbf 60 s ahead": {feed: True, "exp": now + 300, "nbf": now + 60},
    }
    for what, claims in refused.items():
        expect_refusal(get(ctx, feed_path(feed), token(ctx, claims)), f"a token with {what}", 401)
    fine = {
        feed: True,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "iss": "kit",
        "sub": "qa",
        "aud": "x",
        "jti": feed,
    }
    expect_status(get(ctx, feed_path(feed), token(ctx, fine)), "nbf in the past, exp ahead", (200,))


@check(
    "tenduke.token_refusals",
    API,
    "no token (on both kinds of feed), not Bearer, alg none, HS256, an unknown key or a tampered token: 401; "
    "a wrong feed: 403",
    family="tokens",
    operations=(*GET, "getObjectFeed"),
    needs=NEEDS,
)
def token_refusals(ctx: Context) -> None:
    feed = feed_name(ctx, "tokens")
    path, claims = feed_path(feed), {feed: True, "exp": int(time.time()) + 300}
    good = token(ctx, claims)
    header, payload, signature = good.split(".")
    cases = {
        "no Authorization header": None,
        "an unsigned token (alg none)": f"{NONE_HEADER}.{payload}.",
        "a token by an unknown key": token(ctx, claims, key=stranger(2048)),
        "a token with a changed payload": f"{header}.{EVERY_FEED}.{signature}",
        "a token whose payload is not base64url": f"{header}.A.{signature}",
    }
    for what, bearer in cases.items():
        expect_refusal(get(ctx, path, bearer), what, 401)
    expect_refusal(get(ctx, f"/get/conformance-user/{feed}", None), "no Authorization header on an object feed", 401)
    expect_refusal(ctx.http.get(ctx.url(path), headers={"Authorization": f"Basic {good}"}), "Basic, not Bearer", 401)
    expect_refusal(
        get(ctx, path, token(ctx, {"other-feed": True, "exp": claims["exp"]})), "a token for another feed", 403
    )
    expect_status(get(ctx, path, good), "the good token", (200,))


@check(
    "tenduke.bad_query_refused",
    API,
    "maxEventCount 0 or over 10000, a negative after or before: 400",
    family="errors",
    operations=GET,
    needs=NEEDS,
)
def bad_query_refused(ctx: Context) -> None:
    feed = feed_name(ctx, "query")
    bearer = token(ctx, {feed: True, "exp": int(time.time()) + 300})
    for query in ("maxEventCount=0", "maxEventCount=10001", "after=-1", "before=-5", "after=soon"):
        expect_refusal(get(ctx, f"{feed_path(feed)}?{query}", bearer), f"?{query}", 400)
    expect_status(get(ctx, f"{feed_path(feed)}?maxEventCount=10000&after=0", bearer), "maxEventCount=10000", (200,))
