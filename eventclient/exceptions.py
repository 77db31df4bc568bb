"""Exceptions raised by the crypto modules; all derive from :class:`CryptoError`."""

__all__ = [
    "AlgorithmNotAllowed",
    "CryptoError",
    "DecryptionFailed",
    "InvalidKeyEncoding",
    "JwsError",
    "KeyTooWeak",
    "MalformedJws",
    "SignatureInvalid",
    "TokenExpired",
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
