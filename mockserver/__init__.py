"""eventdouble's mock server: the 1Kosmos Events and 10Duke Event Data APIs, with real crypto.

The names below are imported on first use, so importing one module of the package (its spec, its
settings) does not build the whole server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockserver.app import create_app
    from mockserver.backend import Backend
    from mockserver.inprocess import MockServer
    from mockserver.settings import Settings

__all__ = ["Backend", "MockServer", "Settings", "create_app"]

_HOMES = {
    "create_app": "mockserver.app",
    "Backend": "mockserver.backend",
    "MockServer": "mockserver.inprocess",
    "Settings": "mockserver.settings",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
