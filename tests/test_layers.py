"""Layers never import upward: crypto knows no Flask or HTTP, stores know no routes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "eventclient").glob("*crypto*.py")), ids=lambda p: p.name)
def test_crypto_is_io_free(path: Path) -> None:
    forbidden = {"flask", "werkzeug", "requests", "httpx", "urllib.request", "sqlite3", "mockserver"}
    assert not {m for m in imported_modules(path) if m.split(".")[0] in forbidden or m in forbidden}


@pytest.mark.parametrize("path", sorted(ROOT.glob("mockserver/*/store.py")), ids=lambda p: p.parent.name)
def test_stores_do_not_know_http(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.startswith(("flask", "werkzeug")) or m.endswith("routes")}
    assert not bad


def test_eventclient_does_not_import_the_server() -> None:
    for path in (ROOT / "eventclient").glob("*.py"):
        assert not {m for m in imported_modules(path) if m.startswith("mockserver")}, path
