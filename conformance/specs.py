"""The kit's own copies of the API specs: what a server is judged against (never the server's)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["SPECS", "resolve", "spec"]

SPECS = resources.files("eventdouble.openapi")
"""The directory of ``kosmos-events.yaml`` and ``tenduke-events.yaml``, as installed with the kit."""


@cache
def spec(name: str) -> dict[str, Any]:
    """A spec by name (``kosmos-events``, ``tenduke-events``), parsed."""
    document: dict[str, Any] = yaml.safe_load(SPECS.joinpath(f"{name}.yaml").read_text(encoding="utf-8"))
    return document


def resolve(document: dict[str, Any], node: Any) -> Any:
    """``node`` with its ``$ref`` (within ``document``) followed."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node
