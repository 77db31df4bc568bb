"""1Kosmos refusals, rendered as ``{"statusCode": N, "error": "<reason>", "message": "..."}``."""

from __future__ import annotations

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
    "render",
]


class KosmosError(ApiError):
    """Root of the 1Kosmos refusals."""


class InvalidPublicKey(KosmosError):
    """The ``publickey`` header is not a secp256k1 public key."""


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

    def __init__(self, why: str) -> None:
        super().__init__("Invalid or Unauthorized License")
        self.why = why


class LicenseForbidden(KosmosError):
    """A valid license not allowed for this tenant, community or operation."""

    status = 403


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
