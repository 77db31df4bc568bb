"""Server-independent crypto and clients for the 1Kosmos and 10Duke event APIs."""

from eventclient import kosmos_crypto
from eventclient.exceptions import CryptoError, DecryptionFailed, InvalidKeyEncoding

__all__ = ["CryptoError", "DecryptionFailed", "InvalidKeyEncoding", "kosmos_crypto"]
