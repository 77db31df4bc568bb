"""The kit's building blocks: targets, the check registry, results and the failure types.

A check is a small function registered by name with :func:`check`. It receives a
:class:`Context`, raises :class:`CheckFailed` when the target misbehaves, :class:`SkipCheck`
when it cannot run (say why), and returns normally when the target behaved.
"""

from __future__ import annotations

import json
import re
import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from importlib import resources
from typing import Any

import httpx
import requests
import yaml

from eventclient.exceptions import ClientError, CryptoError

__all__ = [
    "CHECKS",
    "KOSMOS_ROLES",
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
    "expect_refusal",
    "expect_reports_errors",
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


KOSMOS_ROLES = ("system", "service", "tenant", "community", "disabled", "expired", "other_tenant")
"""1Kosmos license roles a credentials file may name (``kosmos.licenses.<role>``)."""


@dataclass
class KosmosTarget:
    """What the kit needs to test a 1Kosmos Events service: ids, and licenses by role.

    Roles: ``system``, ``service``, ``tenant`` and ``community`` (licenses of that authLevel, the
    last two for ``tenant``/``community``), ``disabled`` and ``expired`` (refused licenses) and
    ``other_tenant`` (a tenant-level license of ``other_tenant``). A check that needs a role the
    target lacks is skipped and names the key to add.
    """

    tenant: str
    community: str
    licenses: dict[str, str] = field(default_factory=dict)
    other_tenant: str | None = None
    """A tenant the tenant- and community-level licenses may not touch."""
    other_community: str | None = None
    """Another community of ``tenant``."""
    expiring: tuple[str, float] | None = None
    """A license and its expiry (epoch seconds) shortly after the run starts, to watch it expire."""
    allowed_time_span: int = 60
    """Seconds a request id may be old or ahead (the API documents 60)."""

    def writer(self) -> str | None:
        """The narrowest license that may write to ``tenant``/``community``."""
        for role in ("community", "tenant", "service", "system"):
            if role in self.licenses:
                return self.licenses[role]
        return None


@dataclass
class TenDukeTarget:
    """What the kit needs to test a 10Duke Event Data service."""

    private_key_pem: str
    """A registered client's RSA private key."""
    feed: str = "conformance"
    """Prefix of the event source ids the kit writes to (one fresh feed per run and check)."""
    second_private_key_pem: str | None = None
    """Another registered client's key (the server must try every key, not only the first)."""
    weak_private_key_pem: str | None = None
    """The private key of an RSA key under 2048 bits that the server has registered anyway."""
    ec_private_key_pem: str | None = None
    """The private key of a non-RSA (EC P-256) key that the server has registered anyway."""


@dataclass
class Target:
    """A server under test and the credentials for each API to test."""

    base_url: str
    kosmos: KosmosTarget | None = None
    tenduke: TenDukeTarget | None = None
    allow_destructive: bool = False
    """Run checks that change the server for everyone (the service-key reset)."""
    expiring_license: Callable[[float], tuple[str, float]] | None = None
    """Makes a license expiring ``n`` seconds from now (a mock's admin API can); else ``kosmos.expiring``."""
    revocable_license: Callable[[], tuple[str, Callable[[], None]]] | None = None
    """Makes a fresh license and a function that disables it (a mock's admin API can)."""
    revocable_client_key: Callable[[], tuple[str, Callable[[], None]]] | None = None
    """Registers a fresh 10Duke client key (its private PEM) and a function that deletes it."""

    def has(self, key: str) -> bool:
        """Whether the credentials hold ``key`` (``kosmos.licenses.system``, ``tenduke.weak_key``, ...)."""
        api, _, rest = key.partition(".")
        if api == "kosmos":
            if self.kosmos is None:
                return False
            if rest.startswith("licenses."):  # "licenses.a|b": either role will do
                return any(role in self.kosmos.licenses for role in rest.removeprefix("licenses.").split("|"))
            if rest == "expiring":
                return self.kosmos.expiring is not None or self.expiring_license is not None
            if rest == "revocable":
                return self.revocable_license is not None
            return bool(getattr(self.kosmos, rest))
        if self.tenduke is None:
            return False
        if rest == "revocable":
            return self.revocable_client_key is not None
        return bool(getattr(self.tenduke, TENDUKE_KEYS[rest]))


TENDUKE_KEYS = {
    "client_key": "private_key_pem",
    "second_client_key": "second_private_key_pem",
    "weak_key": "weak_private_key_pem",
    "ec_key": "ec_private_key_pem",
}
"""Credentials-file keys of the 10Duke section and the :class:`TenDukeTarget` field each fills."""


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
    family: str = "other"
    """The rule family, for the coverage line (e.g. ``authorisation``, ``request ids``)."""
    operations: tuple[str, ...] = ()
    """The operationIds it exercises, for the per-operation score."""
    needs: tuple[str, ...] = ()
    """Credentials keys it cannot run without; missing ones make it SKIPPED, naming them."""
    destructive: bool = False
    """It changes the server for every user; runs only with ``allow_destructive``."""
    code: str = ""
    """Its rule's stable code (``KOS-RID-005``): never reused for another rule (conformance/rules.yaml)."""
    severity: str = "correctness"
    """``security``, ``correctness`` or ``format``."""
    source: str = "choice"
    """Where the rule comes from: ``seed``, ``vendor``, ``rfc`` or ``choice``."""
    evidence: str = ""
    """Why the rule is what it is, naming the source."""
    waits: float = 0.0
    """Seconds it spends waiting on the clock: the runner starts such checks first."""


@dataclass
class CheckResult:
    """The outcome of one check."""

    name: str
    api: str
    description: str
    status: str  # passed | failed | skipped | error
    detail: str = ""
    family: str = "other"
    operations: tuple[str, ...] = ()
    reproduction: str | None = None
    seconds: float = 0.0
    code: str = ""
    severity: str = "correctness"


CHECKS: dict[str, RegisteredCheck] = {}
SEVERITIES = ("security", "correctness", "format")
SOURCES = ("seed", "vendor", "rfc", "choice")
CODE_FORM = re.compile(r"(KOS|TDK)-[A-Z]+-\d{3}\Z")


@cache
def rules() -> dict[str, tuple[str, str, str, str]]:
    """Each check's rule from ``conformance/rules.yaml``: ``(code, severity, source, evidence)``."""
    text = resources.files("conformance").joinpath("rules.yaml").read_text(encoding="utf-8")
    return {name: tuple(entry) for name, entry in yaml.safe_load(text).items()}  # type: ignore[misc]


def check(
    name: str,
    api: str,
    description: str,
    *,
    family: str = "other",
    operations: tuple[str, ...] = (),
    needs: tuple[str, ...] = (),
    destructive: bool = False,
    waits: float = 0.0,
) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a check under ``name`` (``<api>.<what>``)."""

    def register(func: Callable[[Context], None]) -> Callable[[Context], None]:
        if name in CHECKS:
            raise ValueError(f"check {name} is registered twice")
        if name not in rules():
            raise ValueError(f"check {name} has no rule in conformance/rules.yaml (code, severity, source, evidence)")
        code, severity, source, evidence = rules()[name]
        if not CODE_FORM.match(code) or severity not in SEVERITIES or source not in SOURCES:
            raise ValueError(f"conformance/rules.yaml: {name}: bad code {code!r}, severity or source")
        CHECKS[name] = RegisteredCheck(
            name,
            api,
            description,
            func,
            family,
            operations,
            needs,
            destructive,
            code,
            severity,
            source,
            evidence,
            waits,
        )
        return func

    return register


def expect_status(response: httpx.Response, what: str, statuses: tuple[int, ...]) -> None:
    """Fail unless ``response`` has one of ``statuses``; a 5xx is called out as a server error."""
    if response.status_code >= 500:
        raise CheckFailed(f"{what}: server error {response.status_code}", response)
    if response.status_code not in statuses:
        raise CheckFailed(f"{what}: got {response.status_code}, expected {' or '.join(map(str, statuses))}", response)


def expect_refusal(response: httpx.Response, what: str, status: int) -> None:
    """Fail unless ``response`` is a refusal with ``status`` in its API's documented error format."""
    expect_status(response, what, (status,))
    try:
        body = response.json()
    except ValueError as exc:
        raise CheckFailed(f"{what}: the {status} answer is not JSON: {response.text[:100]!r}", response) from exc
    path = response.request.url.path
    if path.startswith("/reports"):
        _expect_reports_envelope(body, what, status, response)
    elif path.startswith(("/events", "/caas", "/api/r1")):
        expected = {"statusCode": status, "error": HTTPStatus(status).phrase}
        if not isinstance(body, dict) or {k: body.get(k) for k in expected} != expected:
            raise CheckFailed(
                f"{what}: the refusal is not {{statusCode: {status}, error: ..., message}}: {body}", response
            )
        if not isinstance(body.get("message"), str):
            raise CheckFailed(f"{what}: the refusal has no message: {body}", response)
    elif not (isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("message"), str)):
        raise CheckFailed(f"{what}: the refusal is not {{error, message}}: {body}", response)


def expect_reports_errors(
    response: httpx.Response, what: str, errors: list[tuple[str, str]], status: int = 400
) -> None:
    """Fail unless ``response`` is a ``status`` refusal listing exactly ``errors`` (``(param, message)``), in any order.

    The reports service reports every error of a request at once, in the vendor's words.
    """
    expect_refusal(response, what, status)
    got = sorted((e["param"], e["message"]) for e in response.json()["errors"])
    if got != sorted(errors):
        raise CheckFailed(f"{what}: errors {got}, expected exactly {sorted(errors)}", response)


def _expect_reports_envelope(body: Any, what: str, status: int, response: httpx.Response) -> None:
    """Fail unless ``body`` is the reports service's refusal: ``{"errors": [{"message", "param"}, ...]}`` only."""
    errors = body.get("errors") if isinstance(body, dict) and set(body) == {"errors"} else None
    well_formed = isinstance(errors, list) and errors and all(
        isinstance(e, dict) and set(e) == {"message", "param"} and all(isinstance(v, str) and v for v in e.values())
        for e in errors
    )  # fmt: skip
    if not well_formed:
        raise CheckFailed(
            f"{what}: the {status} refusal is not the reports service's {{errors: [{{message, param}}]}}: {body}",
            response,
        )


def _missing(registered: RegisteredCheck, ctx: Context) -> str | None:
    """Why ``registered`` cannot run against this target, or None."""
    absent = [key for key in registered.needs if not ctx.target.has(key)]
    if absent and all(key.endswith(".revocable") for key in absent):
        return "needs --provision-mock: the kit disables or deletes a credential through the mock's admin API"
    if absent:
        return f"needs {', '.join(absent)} in the credentials file"
    if registered.destructive and not ctx.target.allow_destructive:
        return "destructive: changes the server for every user; run with --allow-destructive"
    return None


def _which_request(exc: Exception) -> str:
    """`` METHOD URL`` of the request an HTTP failure is about, to name it in the report; empty if unknown."""
    try:
        request = exc.request  # type: ignore[attr-defined] - httpx sets it; requests' may be None
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when none was set
        return ""
    if request is None:
        return ""
    return f" {request.method} {request.url}"


def run_check(registered: RegisteredCheck, ctx: Context) -> CheckResult:
    """Run one check and classify its outcome."""
    started = time.perf_counter()
    result = CheckResult(
        registered.name,
        registered.api,
        registered.description,
        "passed",
        family=registered.family,
        operations=registered.operations,
        code=registered.code,
        severity=registered.severity,
    )
    try:
        if why := _missing(registered, ctx):
            raise SkipCheck(why)
        registered.run(ctx)
    except CheckFailed as failure:
        result.status, result.detail, result.reproduction = "failed", failure.message, failure.reproduction
    except SkipCheck as skip:
        result.status, result.detail = "skipped", str(skip)
    except (httpx.TransportError, requests.ConnectionError, requests.Timeout) as exc:  # requests: schemathesis
        result.status, result.detail = "error", f"the target did not answer{_which_request(exc)}: {exc}"
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
    try:
        body = request.content.decode("utf-8", "replace") if request.content else ""
    except httpx.RequestNotRead:  # a streamed (chunked) body is gone once sent
        body = "(a chunked body, streamed; not repeated here)"
    if body:
        parts += ["--data-binary", body if len(body) <= limit else body[:limit] + "...(cut)"]
    return shlex.join(parts)
