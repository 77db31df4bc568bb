"""eventdouble: a mock server with real crypto and a conformance kit, for two signed event APIs.

The two APIs are the 1Kosmos Events API and the 10Duke Event Data API. The public names are
loaded on first use, so that ``eventdouble --help`` starts fast:

- :class:`MockServer` (an in-process mock) and :func:`create_app` (the WSGI app);
- :class:`KosmosClient` and :class:`TenDukeClient` (clients with real crypto);
- :func:`run` and :class:`Target`, :class:`KosmosTarget`, :class:`TenDukeTarget` (the kit).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance import KosmosTarget, Report, Target, TenDukeTarget, run
    from eventclient import KosmosClient, TenDukeClient
    from mockserver import MockServer, create_app

try:
    __version__ = version("eventdouble")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

_HOMES = {
    "MockServer": "mockserver",
    "create_app": "mockserver",
    "KosmosClient": "eventclient",
    "TenDukeClient": "eventclient",
    "run": "conformance",
    "Report": "conformance",
    "Target": "conformance",
    "KosmosTarget": "conformance",
    "TenDukeTarget": "conformance",
}

__all__ = [
    "KosmosClient",
    "KosmosTarget",
    "MockServer",
    "Report",
    "Target",
    "TenDukeClient",
    "TenDukeTarget",
    "__version__",
    "create_app",
    "run",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'eventdouble' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
