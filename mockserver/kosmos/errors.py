"""1Kosmos refusals, rendered as ``{"statusCode": N, "error": "<reason>", "message": "..."}``."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from mockserver.errors import ApiError

__all__ = [
    "BodyNotDecryptable",
    "HeaderNotDecryptable",
    "InvalidPublicKey",
    "KosmosError",
    "LicenseForbidden",
    "LicenseInvalid",
    "MalformedRequestId",
    "QueryParamRefused",
    "ReplayedRequestId",
    "ServiceKeyNotFound",
    "StaleRequestId",
    "is_reports_path",
    "render",
    "render_reports",
]


class KosmosError(ApiError):
    """Root of the 1Kosmos refusals."""


class InvalidPublicKey(KosmosError):
    """The ``publickey`` header is not a public key on the services' curve."""


class HeaderNotDecryptable(KosmosError):
    """A header does not decrypt with the shared key."""

    def __init__(self, header: str) -> None:
        super().__init__(f"{header}: This header can't be decrypted")


class BodyNotDecryptable(KosmosError):
    """The body's ``data`` does not decrypt, or is not a JSON object once decrypted."""


class MalformedRequestId(KosmosError):
    """The decrypted request id is not the expected JSON."""


class StaleRequestId(KosmosError):
    """The request id ``ts`` is too old or in the future."""

    status = 401


class ReplayedRequestId(KosmosError):
    """The request id ``uuid`` was used before."""

    status = 401


class LicenseInvalid(KosmosError):
    """The license is unknown, disabled or expired."""

    status = 401
    param = "licensekey"

    def __init__(self, why: str) -> None:
        super().__init__("Invalid or Unauthorized License")
        self.why = why


class LicenseForbidden(KosmosError):
    """A valid license not allowed for this tenant, community or operation."""

    status = 403
    param = "licensekey"


class QueryParamRefused(KosmosError):
    """The reports service refuses query bounds: ``{"errors": [{"message", "param"}, ...]}``, as the vendor's does."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{param}: {message}" for param, message in errors))
        self.errors = errors

    def body(self) -> dict[str, object]:
        """The reports service's error body."""
        return {"errors": [{"message": message, "param": param} for param, message in self.errors]}


class ServiceKeyNotFound(KosmosError):
    """No service key with this keyId."""

    status = 404


def render(status: int, message: str) -> dict[str, Any]:
    """The vendor's error body."""
    return {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}


def is_reports_path(path: str) -> bool:
    """Whether ``path`` is under the reports service, whose refusals have an envelope of their own."""
    return path == "/reports" or path.startswith("/reports/")


_PARAM_PREFIX = re.compile(r"(?:body\.)?([A-Za-z_][\w.\[\]-]*): (.+)", re.DOTALL)
_SPEC_PARAMETER = re.compile(r"(?:path|query|header) parameter '([^']+)':? ?(.*)", re.DOTALL)
_WHOLE_REQUEST = {404: "url", 405: "url", 413: "body", 415: "body", 429: "licensekey", 431: "headers"}


def _split_param(status: int, message: str) -> tuple[str, str]:
    """The request part a refusal message names in its ``part: text`` prefix, and the text; else a default part."""
    if found := _SPEC_PARAMETER.fullmatch(message):
        return found[1], found[2] or message
    if found := _PARAM_PREFIX.fullmatch(message):
        return found[1], found[2]
    return _WHOLE_REQUEST.get(status, "body" if status < 500 else "server"), message


def render_reports(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    """The reports service's error body, ``{"errors": [{"message", "param"}]}``, as the vendor's service answers.

    The message's ``part: text`` prefix (``licensekey: This header can't be decrypted``) is dropped;
    without ``param``, it names the part at fault.
    """
    named, text = _split_param(status, message)
    return {"errors": [{"message": text, "param": param or named}]}
