"""Exceptions of eventclient: :class:`CryptoError` for crypto, :class:`ClientError` for the API clients."""

__all__ = [
    "AlgorithmNotAllowed",
    "ApiError",
    "ClientError",
    "CryptoError",
    "DecryptionFailed",
    "InvalidKeyEncoding",
    "JwsError",
    "KeyTooWeak",
    "KosmosApiError",
    "MalformedJws",
    "ServiceUnreachable",
    "SignatureInvalid",
    "TenDukeApiError",
    "TokenExpired",
    "UnexpectedResponse",
]


class CryptoError(Exception):
    """Base class of every crypto failure."""


class InvalidKeyEncoding(CryptoError):
    """A key is not valid base64, has the wrong length, or is not on the curve."""


class DecryptionFailed(CryptoError):
    """A ciphertext is malformed, truncated, tampered with or sealed with another key."""


class JwsError(CryptoError):
    """A JWS or JWT cannot be accepted."""


class MalformedJws(JwsError):
    """Not a compact JWS: wrong number of parts, bad base64url, a header that is not JSON."""


class AlgorithmNotAllowed(JwsError):
    """The header's ``alg`` is not on the allow-list (``none``, ``HS*``, ``ES*``, ...)."""


class SignatureInvalid(JwsError):
    """No known key verifies the signature."""


class KeyTooWeak(JwsError):
    """An RSA key shorter than the minimum, or a key that is not RSA."""


class TokenExpired(JwsError):
    """A bearer token past its ``exp`` or before its ``nbf``, or without ``exp``."""


class ClientError(Exception):
    """Root of what the API clients raise (crypto problems raise :class:`CryptoError`)."""


class ServiceUnreachable(ClientError):
    """The base URL does not answer (wrong host or port, server down, timeout)."""


class UnexpectedResponse(ClientError):
    """The server answered, but not in the API's format (e.g. 200 without the expected body)."""


class ApiError(ClientError):
    """The server refused the request; carries its status and its message."""

    def __init__(self, status: int, error: str, message: str, body: object = None) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message
        self.body = body


class KosmosApiError(ApiError):
    """A 1Kosmos refusal: ``{"statusCode", "error", "message"}``, or the reports service's ``{"errors": [...]}``.

    For the latter, ``message`` lists each error as ``param: message``; ``body`` has them as sent.
    """


class TenDukeApiError(ApiError):
    """A 10Duke refusal (``{"error", "message"}``)."""
