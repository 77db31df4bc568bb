"""The kit's building blocks: targets, the check registry, results and the failure types.

A check is a small function registered by name with :func:`check`. It receives a
:class:`Context`, raises :class:`CheckFailed` when the target misbehaves, :class:`SkipCheck`
when it cannot run (say why), and returns normally when the target behaved.
"""

from __future__ import annotations

import json
import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from eventclient.exceptions import ClientError, CryptoError

__all__ = [
    "CHECKS",
    "CheckFailed",
    "CheckResult",
    "ConformanceError",
    "Context",
    "KosmosTarget",
    "RegisteredCheck",
    "SkipCheck",
    "Target",
    "TenDukeTarget",
    "check",
    "curl",
    "expect_status",
]


class CheckFailed(AssertionError):
    """The target did something the spec or the security rules forbid."""

    def __init__(self, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reproduction = curl(response.request) if response is not None else None


class SkipCheck(Exception):
    """The check cannot run against this target; the message says why."""


class ConformanceError(Exception):
    """The kit is misconfigured or the target cannot be reached: not a verdict on the target."""


@dataclass
class KosmosTarget:
    """What the kit needs to test a 1Kosmos Events service."""

    license_key: str
    tenant_id: str
    community_id: str
    scoped: bool = False
    """The license is of authLevel tenant or community, so another tenant must be refused."""
    disabled_license: str | None = None
    """A disabled license key, for the disabled-license check (skipped without one)."""


@dataclass
class TenDukeTarget:
    """What the kit needs to test a 10Duke Event Data service."""

    private_key_pem: str
    feed: str


@dataclass
class Target:
    """A server under test and the credentials for each API to test."""

    base_url: str
    kosmos: KosmosTarget | None = None
    tenduke: TenDukeTarget | None = None


@dataclass
class Context:
    """What a check gets: the target, an HTTP client, and a marker unique to this run."""

    target: Target
    http: httpx.Client
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    cache: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    """Run options: ``max_examples`` and ``seed`` of the schema phase."""

    def url(self, path: str) -> str:
        """An absolute URL on the target."""
        return self.target.base_url.rstrip("/") + path


@dataclass(frozen=True)
class RegisteredCheck:
    """A named check."""

    name: str
    api: str
    description: str
    run: Callable[[Context], None]


@dataclass
class CheckResult:
    """The outcome of one check."""

    name: str
    api: str
    description: str
    status: str  # passed | failed | skipped | error
    detail: str = ""
    reproduction: str | None = None
    seconds: float = 0.0


CHECKS: dict[str, RegisteredCheck] = {}


def check(name: str, api: str, description: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a check under ``name`` (``<api>.<what>``)."""

    def register(func: Callable[[Context], None]) -> Callable[[Context], None]:
        if name in CHECKS:
            raise ValueError(f"check {name} is registered twice")
        CHECKS[name] = RegisteredCheck(name, api, description, func)
        return func

    return register


def expect_status(response: httpx.Response, what: str, statuses: tuple[int, ...]) -> None:
    """Fail unless ``response`` has one of ``statuses``; a 5xx is called out as a server error."""
    if response.status_code >= 500:
        raise CheckFailed(f"{what}: server error {response.status_code}", response)
    if response.status_code not in statuses:
        raise CheckFailed(f"{what}: got {response.status_code}, expected {' or '.join(map(str, statuses))}", response)


def run_check(registered: RegisteredCheck, ctx: Context) -> CheckResult:
    """Run one check and classify its outcome."""
    started = time.perf_counter()
    result = CheckResult(registered.name, registered.api, registered.description, "passed")
    try:
        registered.run(ctx)
    except CheckFailed as failure:
        result.status, result.detail, result.reproduction = "failed", failure.message, failure.reproduction
    except SkipCheck as skip:
        result.status, result.detail = "skipped", str(skip)
    except httpx.TransportError as exc:
        result.status, result.detail = "error", f"the target did not answer: {exc}"
    except (ClientError, CryptoError, json.JSONDecodeError, KeyError) as exc:
        # the target's answers could not be used (e.g. 200 without the expected body)
        result.status, result.detail = "failed", f"unusable answer from the target: {type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - a defect of the kit itself: report it, keep running the others
        result.status, result.detail = "error", f"the kit failed: {type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - started
    return result


def curl(request: httpx.Request, limit: int = 2000) -> str:
    """A curl command line that repeats ``request`` (long bodies cut)."""
    parts = ["curl", "-X", request.method, str(request.url)]
    for name, value in request.headers.items():
        if name.lower() not in {"host", "content-length", "accept-encoding", "connection", "user-agent", "accept"}:
            parts += ["-H", f"{name}: {value}"]
    body = request.content.decode("utf-8", "replace") if request.content else ""
    if body:
        parts += ["--data-binary", body if len(body) <= limit else body[:limit] + "...(cut)"]
    return shlex.join(parts)
