"""Server-independent crypto and clients for the 1Kosmos and 10Duke event APIs."""

from eventclient import jws, kosmos_crypto
from eventclient.exceptions import (
    ApiError,
    ClientError,
    CryptoError,
    DecryptionFailed,
    InvalidKeyEncoding,
    KosmosApiError,
    ServiceUnreachable,
    TenDukeApiError,
)
from eventclient.kosmos_client import KosmosClient
from eventclient.tenduke_client import TenDukeClient

__all__ = [
    "ApiError",
    "ClientError",
    "CryptoError",
    "DecryptionFailed",
    "InvalidKeyEncoding",
    "KosmosApiError",
    "KosmosClient",
    "ServiceUnreachable",
    "TenDukeApiError",
    "TenDukeClient",
    "jws",
    "kosmos_crypto",
]
