"""The eventdouble conformance kit: test any server against the 1Kosmos and 10Duke specs.

Names are loaded on first use (PEP 562), so ``eventdouble --help`` does not import the kit's
schemathesis and hypothesis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.core import (
        CHECKS,
        CheckFailed,
        CheckResult,
        ConformanceError,
        Context,
        KosmosTarget,
        SkipCheck,
        Target,
        TenDukeTarget,
        check,
    )
    from conformance.credentials import dump_credentials, load_credentials
    from conformance.mock_target import provision
    from conformance.report import Report
    from conformance.runner import run

_HOMES = {
    **dict.fromkeys(
        [
            "CHECKS",
            "CheckFailed",
            "CheckResult",
            "ConformanceError",
            "Context",
            "KosmosTarget",
            "SkipCheck",
            "Target",
            "TenDukeTarget",
            "check",
        ],
        "conformance.core",
    ),
    "dump_credentials": "conformance.credentials",
    "load_credentials": "conformance.credentials",
    "provision": "conformance.mock_target",
    "Report": "conformance.report",
    "run": "conformance.runner",
}

__all__ = [
    "CHECKS",
    "CheckFailed",
    "CheckResult",
    "ConformanceError",
    "Context",
    "KosmosTarget",
    "Report",
    "SkipCheck",
    "Target",
    "TenDukeTarget",
    "check",
    "dump_credentials",
    "load_credentials",
    "provision",
    "run",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
