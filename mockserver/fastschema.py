"""A compiled (Rust) validator for OpenAPI 3.0 schemas, used only to accept valid requests quickly.

jsonschema with openapi-schema-validator stays the authority: it produces every error message,
and it decides whenever the fast validator says "invalid". The fast one may therefore be
stricter than the reference but never looser; :func:`fast_validator` declines (returns None)
for any schema it cannot translate faithfully, and ``tests/test_spec.py`` checks the property
on generated instances.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema_rs
from openapi_schema_validator import oas30_format_checker

__all__ = ["fast_validator"]

INTEGER_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
"""Checked on integers by openapi-schema-validator; jsonschema-rs checks formats on strings only."""
NUMBER_FORMATS = {"float", "double"}
"""Always true for a decoded JSON number."""

_SCHEMA_MAPS = ("properties", "patternProperties")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMAS = ("items", "additionalProperties", "not")


class _Untranslatable(Exception):
    """The schema uses something the fast validator might judge differently."""


def _draft4(schema: Any, resolve: Callable[[str], Any], seen: tuple[str, ...], formats: set[str]) -> Any:
    """``schema`` with local $refs inlined and the OAS 3.0 keywords rewritten for draft 4.

    String formats are collected in ``formats``, to be checked with the reference's own functions.
    """
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        raise _Untranslatable(f"not a schema: {schema!r}")
    if "$ref" in schema:
        pointer = str(schema["$ref"])
        if not pointer.startswith("#/") or pointer in seen:
            raise _Untranslatable(f"remote or recursive $ref {pointer}")
        return _draft4(resolve(pointer[1:]), resolve, (*seen, pointer), formats)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS:
            out[key] = {name: _draft4(sub, resolve, seen, formats) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [_draft4(sub, resolve, seen, formats) for sub in value]
        elif key in _SCHEMAS:
            out[key] = _draft4(value, resolve, seen, formats)
        elif key in ("format", "nullable", "discriminator"):
            continue  # handled below
        else:
            out[key] = value  # validation keywords and annotations (example, description, x-...)
    if "discriminator" in schema:
        raise _Untranslatable("discriminator")
    if schema.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
    fmt = schema.get("format")
    if fmt in INTEGER_FORMATS:
        low, high = INTEGER_FORMATS[fmt]
        out = {"allOf": [out, {"anyOf": [{"not": {"type": "integer"}}, {"minimum": low, "maximum": high}]}]}
    elif fmt is not None and fmt not in NUMBER_FORMATS:
        out["format"] = fmt
        formats.add(str(fmt))
    return out


def _reference_format(name: str) -> Callable[[str], bool]:
    return lambda value: oas30_format_checker.conforms(value, name)


def fast_validator(schema: Any, resolve: Callable[[str], Any]) -> Callable[[Any], bool] | None:
    """A predicate that is True only for instances the OAS 3.0 schema accepts; None if not possible.

    ``resolve`` maps a JSON pointer of the document to its object. The predicate returns False
    (so the reference validator decides) for anything it cannot represent, such as integers
    beyond 64 bits.
    """
    formats: set[str] = set()
    try:
        translated = _draft4(schema, resolve, (), formats)
        compiled = jsonschema_rs.Draft4Validator(
            translated,
            formats={name: _reference_format(name) for name in formats},
            validate_formats=True,
            ignore_unknown_formats=False,
        )
    except (_Untranslatable, ValueError):
        return None

    def is_valid(instance: Any) -> bool:
        try:
            return bool(compiled.is_valid(instance))
        except (ValueError, OverflowError, TypeError):
            return False

    return is_valid
