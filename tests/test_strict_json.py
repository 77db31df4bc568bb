"""eventclient.strict_json: what it refuses, and that its fast paths (no string walk when the text
cannot hold a surrogate, no depth walk when it has too few brackets) decide exactly as the full walk does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventclient import strict_json

LONE = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
TEXT = st.one_of(
    st.text(max_size=8), st.builds(lambda a, s, b: a + s + b, st.text(max_size=3), LONE, st.text(max_size=3))
)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**60), 2**60), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=30,
)


def full_walk_refuses(value: Any) -> bool:
    try:
        strict_json._check(value, strict_json.MAX_DEPTH)
    except strict_json.JsonRefused:
        return True
    return False


def refused(data: str | bytes) -> bool:
    try:
        strict_json.loads(data)
    except strict_json.JsonRefused:
        return True
    return False


@settings(max_examples=300, deadline=None)
@given(VALUES, st.booleans(), st.sampled_from(["str", "utf-8", "utf-8 surrogatepass", "utf-16-le surrogatepass"]))
def test_the_fast_path_refuses_exactly_what_the_full_walk_refuses(value: Any, ascii_only: bool, form: str) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    if form == "str":
        data: str | bytes = text
    elif form == "utf-8":
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return  # a raw lone surrogate has no UTF-8 form
    else:
        data = text.encode(form.split()[0], "surrogatepass")
    assert refused(data) == full_walk_refuses(value)


def nested(depth: int, filler: str = "") -> str:
    """``depth`` arrays, one in another, the innermost holding the string ``filler``."""
    return "[" * depth + json.dumps(filler) + "]" * depth


@pytest.mark.parametrize("filler", ["", "[" * 40, "{" * 20 + "[" * 20])
def test_depth_is_judged_by_the_nesting_not_by_brackets_in_strings(filler: str) -> None:
    """33 levels are refused and 32 accepted, whether or not strings hold brackets too."""
    assert refused(nested(33, filler))
    assert strict_json.loads(nested(32, filler)) == json.loads(nested(32, filler))
    assert strict_json.loads(nested(2, filler)) == [[filler]]


@pytest.mark.parametrize(
    "data",
    ['"\\ud800"', b'"\\uDC00"', '"\ud800"', b'"\xed\xa0\x80"', '{"\\ud800": 1}', "NaN", "[1e400]", "[" * 33 + "]" * 33,
     '{"a": "x\\udfff"}', "-Infinity", "1" + "0" * 400],
)  # fmt: skip
def test_refused(data: str | bytes) -> None:
    assert refused(data)


@pytest.mark.parametrize(
    "data, value",
    [('"\\ud83d\\ude00"', "\U0001f600"), ('"\\\\ud800"', "\\ud800"), ("[" * 32 + "]" * 32, None),
     (b'{"a": ["\xc3\xa9"]}', {"a": ["\u00e9"]}), ('"\\u00e9"', "\u00e9")],
)  # fmt: skip
def test_accepted(data: str | bytes, value: Any) -> None:
    """``value`` None: as ``json.loads`` reads it."""
    assert strict_json.loads(data) == (json.loads(data) if value is None else value)
