"""Exceptions raised by the crypto modules; all derive from :class:`CryptoError`."""

__all__ = ["CryptoError", "DecryptionFailed", "InvalidKeyEncoding"]


class CryptoError(Exception):
    """Base class of every crypto failure."""


class InvalidKeyEncoding(CryptoError):
    """A key is not valid base64, has the wrong length, or is not on the curve."""


class DecryptionFailed(CryptoError):
    """A ciphertext is malformed, truncated, tampered with or sealed with another key."""
