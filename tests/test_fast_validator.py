"""The compiled validator may refuse more than jsonschema, never less; jsonschema has the last word."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.errors import RequestValidationError
from mockserver.fastschema import fast_validator
from mockserver.spec import OpenApiSpec, load_spec

PAYLOAD = "/components/schemas/PutPayload"
EVENT = {"eventType": "login", "eventSourceId": "app"}


def reference_accepts(spec: OpenApiSpec, pointer: str, instance: Any) -> bool:
    return not list(spec.validator(pointer).iter_errors(instance))


def fast(spec: OpenApiSpec, pointer: str) -> Any:
    check = fast_validator(spec.resolve_pointer(pointer), spec.resolve_pointer)
    assert check is not None, f"{pointer} has no fast validator"
    return check


@pytest.mark.parametrize(
    ("instance", "valid"),
    [
        ([EVENT, {**EVENT, "eventObjectType": "user", "eventObjectId": "u1", "data": {"a": 1}}], True),
        ({**EVENT, "eventId": "0f58aa7a-c10a-4835-a4d5-431a21d34a59"}, True),
        ({**EVENT, "eventId": "not-a-uuid"}, False),
        ({**EVENT, "eventReceived": 1}, False),
        ({**EVENT, "eventObjectType": "user"}, False),
        ({**EVENT, "eventType": ""}, False),
        ({**EVENT, "version": 2**70}, True),  # beyond 64 bits: the fast one declines, jsonschema accepts
        ({**EVENT, "eventSourceId": None}, False),
        ([], False),
        ("text", False),
    ],
)
def test_payload_cases_agree(instance: Any, valid: bool) -> None:
    spec = load_spec("tenduke-events")
    assert reference_accepts(spec, PAYLOAD, instance) is valid
    if fast(spec, PAYLOAD)(instance):
        assert valid


def test_valid_payloads_take_the_fast_path() -> None:
    """Otherwise the fast validator would be correct but useless."""
    assert fast(load_spec("tenduke-events"), PAYLOAD)([EVENT] * 100)


def test_nullable_is_translated() -> None:
    spec = load_spec("admin")
    pointer = "/components/schemas/License"
    check = fast(spec, pointer)
    record = {"keyId": "k", "licenseKey": "l", "type": "license", "authLevel": "system", "disabled": False,
              "createdAt": "2026-11-23T12:00:00Z"}  # fmt: skip
    assert reference_accepts(spec, pointer, {**record, "tag": None})
    assert check({**record, "tag": None})
    assert not check({**record, "tag": 5})
    assert not check({**record, "createdAt": "yesterday"})
    assert not reference_accepts(spec, pointer, {**record, "createdAt": "yesterday"})


def test_int64_bounds_are_kept() -> None:
    spec = load_spec("tenduke-events")
    checked = 0
    for op in spec.operations.values():
        for param in op.params["query"]:
            if param.schema.get("format") == "int64":
                pointer = param.pointer
                check = fast(spec, pointer)
                assert check(2**63 - 1)
                assert not check(2**63)
                assert not reference_accepts(spec, pointer, 2**63)
                checked += 1
    assert checked >= 2  # after and before


def test_where_they_differ_jsonschema_decides() -> None:
    """jsonschema's `$` also matches before a final newline; the compiled regex does not."""
    spec = load_spec("kosmos-events")
    pointer = "/components/schemas/QueryTime"
    value = "2023-02-14 15:00:00\n"
    assert not fast(spec, pointer)(value)
    spec.check(pointer, value, "body")  # accepted, as jsonschema alone would
    with pytest.raises(RequestValidationError):
        spec.check(pointer, "14/02/2023", "body")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        key: json_values | st.just("0f58aa7a-c10a-4835-a4d5-431a21d34a59") | st.text(min_size=1, max_size=5)
        for key in ("eventType", "eventSourceId", "eventId", "eventObjectType", "eventObjectId", "version", "data")
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, event_like, st.lists(event_like, min_size=1, max_size=3)))
def test_fast_never_accepts_what_jsonschema_refuses(instance: Any) -> None:
    spec = load_spec("tenduke-events")
    if fast(spec, PAYLOAD)(instance):
        assert reference_accepts(spec, PAYLOAD, instance), instance
