"""Parse JSON that came from outside: only what every strict reader (RFC 8259, ``JSON.parse``) reads the same way.

``json.loads`` accepts ``NaN``, ``Infinity`` and ``1e400`` (which becomes ``inf``), strings with
lone surrogates that no UTF-8 store or reader can hold, and nesting so deep that any recursive
code after it (jsonschema, ``json.dumps``) overflows the stack. :func:`loads` refuses all of them
with :class:`JsonRefused`, a ``ValueError`` whose message says what and where. No IO.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["MAX_DEPTH", "JsonRefused", "loads"]

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted; events are far flatter than this."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonRefused(ValueError):
    """The text is not JSON, or is JSON a strict reader would not read the same way."""


def _no_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JsonRefused(f"the number {text[:40]} is too large to be finite")
    return value


def _finite_int(text: str) -> int:
    value = int(text)
    if value.bit_length() > 1024:  # beyond the largest double: JSON.parse reads it as Infinity
        raise JsonRefused(f"the number {text[:40]}... is too large to be finite")
    return value


def _check_string(value: str, where: str) -> None:
    if _SURROGATE.search(value):
        raise JsonRefused(f"{where or 'the value'}: a string holds a lone surrogate (not Unicode text)")


def _may_hold_surrogates(text: str) -> bool:
    r"""Whether the decoded text could give a string with a surrogate; False is certain, True a maybe.

    ``json.loads`` makes surrogates from ``\uD800``-style escapes, and keeps those of the text
    itself (bytes are decoded with ``surrogatepass``); a text with neither needs no string checks.
    An ASCII text (known without reading it) holds no surrogate itself.
    """
    if not text.isascii() and _SURROGATE.search(text):
        return True
    return "\\u" in text and _ESCAPED_SURROGATE.search(text) is not None


def _may_nest_deeper(text: str, max_depth: int) -> bool:
    """Whether the text may nest ``max_depth`` levels: each level opens with a bracket or a brace."""
    return text.count("[") + text.count("{") >= max_depth


def _check_depth(value: Any, max_depth: int) -> None:
    """Walk the arrays and objects of ``value`` without recursion; refuse nesting beyond ``max_depth``."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if depth >= max_depth:
            raise JsonRefused(f"nested more than {max_depth} levels deep")
        items = node.values() if type(node) is dict else node
        pending.extend((item, depth + 1) for item in items if type(item) is dict or type(item) is list)


def _check(value: Any, max_depth: int) -> None:
    """Walk ``value`` without recursion: depth, and every key and string free of lone surrogates."""
    pending: list[tuple[Any, int, str]] = [(value, 0, "")]
    while pending:
        node, depth, where = pending.pop()
        if isinstance(node, str):
            _check_string(node, where)
            continue
        if not isinstance(node, dict | list):
            continue
        if depth >= max_depth:
            raise JsonRefused(f"nested more than {max_depth} levels deep")
        if isinstance(node, dict):
            for key, item in node.items():
                _check_string(key, where)
                pending.append((item, depth + 1, f"{where}.{key}" if len(where) < 200 else where))
        else:
            pending.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(node))


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float, parse_int=_finite_int)
"""One decoder for every call (``json.loads`` with these hooks would build one each time)."""


def _text(data: str | bytes) -> str:
    """What ``json.loads`` decodes ``data`` to, with its refusal of a BOM before text."""
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            raise ValueError("Unexpected UTF-8 BOM (decode using utf-8-sig)")
        return data
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"JSON text must be str or bytes, not {type(data).__name__}")
    return data.decode(json.detect_encoding(data), "surrogatepass")


def loads(data: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` (UTF-8 if bytes); :class:`JsonRefused` for anything but strict, finite, shallow JSON."""
    try:
        text = _text(data)
        value = _DECODER.decode(text)
    except JsonRefused:
        raise
    except RecursionError:
        raise JsonRefused(f"nested more than {max_depth} levels deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonRefused(str(exc)) from exc
    if _may_hold_surrogates(text):
        _check(value, max_depth)
    elif _may_nest_deeper(text, max_depth):
        _check_depth(value, max_depth)
    return value
