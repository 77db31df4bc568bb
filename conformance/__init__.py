"""The eventdouble conformance kit: test any server against the 1Kosmos and 10Duke specs."""

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
