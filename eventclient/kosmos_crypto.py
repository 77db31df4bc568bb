"""The 1Kosmos "ECDSA" scheme: secp256k1 ECDH and AES-256-GCM, bytes in, bytes out.

Wire formats (see docs/design notes):

* public key: base64 of the 64-byte raw point X||Y (uncompressed SEC1 without its 0x04);
* private key: base64 of the big-endian scalar, normally 32 bytes (31 and 33 occur too);
* shared key: the raw 32-byte X coordinate of ECDH, no hash, no KDF;
* ciphertext: base64(IV[16] || ciphertext || tag[16]), AES-256-GCM, no AAD.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eventclient.exceptions import DecryptionFailed, InvalidKeyEncoding

__all__ = [
    "CURVE_NAME",
    "IV_SIZE",
    "KeyPair",
    "decrypt",
    "decrypt_text",
    "encode_private_key",
    "encode_public_key",
    "encrypt",
    "generate_keypair",
    "load_private_key",
    "load_public_key",
    "shared_key",
]

CURVE_NAME = "secp256k1"
IV_SIZE = 16
TAG_SIZE = 16
_CURVE = ec.SECP256K1()
CIPHER_CACHE_SIZE = 1024
"""AES keys whose prepared cipher is kept: one party uses one shared key for many messages."""
# Order of the secp256k1 group: a private scalar must lie in [1, N-1].
_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

PrivateKeyLike = str | ec.EllipticCurvePrivateKey
PublicKeyLike = str | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class KeyPair:
    """A key pair in wire encoding (both strings are base64)."""

    private_key: str
    public_key: str


def _b64decode(text: str | bytes, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidKeyEncoding(f"{what} is not valid base64") from exc


def generate_keypair() -> KeyPair:
    """Return a fresh secp256k1 key pair in wire encoding."""
    private = ec.generate_private_key(_CURVE)
    return KeyPair(encode_private_key(private), encode_public_key(private.public_key()))


def encode_public_key(key: ec.EllipticCurvePublicKey) -> str:
    """Encode a public key as base64 of the raw point X||Y."""
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.b64encode(point[1:]).decode("ascii")


def encode_private_key(key: ec.EllipticCurvePrivateKey) -> str:
    """Encode a private key as base64 of its 32-byte big-endian scalar."""
    scalar = key.private_numbers().private_value
    return base64.b64encode(scalar.to_bytes(32, "big")).decode("ascii")


def load_public_key(text: str | bytes) -> ec.EllipticCurvePublicKey:
    """Decode a wire public key (64 raw bytes X||Y; a 65-byte 0x04-prefixed point is also taken)."""
    raw = _b64decode(text, "public key")
    if len(raw) == 64:
        raw = b"\x04" + raw
    if len(raw) != 65 or raw[0] != 4:
        raise InvalidKeyEncoding("public key must be 64 bytes (X||Y) after base64 decoding")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, raw)
    except ValueError as exc:
        raise InvalidKeyEncoding("public key is not a point on secp256k1") from exc


def load_private_key(text: str | bytes) -> ec.EllipticCurvePrivateKey:
    """Decode a wire private key: any length up to 33 bytes, read as an unsigned integer."""
    raw = _b64decode(text, "private key")
    if not 1 <= len(raw) <= 33:
        raise InvalidKeyEncoding("private key must be 1 to 33 bytes after base64 decoding")
    scalar = int.from_bytes(raw, "big")
    if not 1 <= scalar < _ORDER:
        raise InvalidKeyEncoding("private key is out of range for secp256k1")
    return ec.derive_private_key(scalar, _CURVE)


def shared_key(private: PrivateKeyLike, public: PublicKeyLike) -> bytes:
    """Return the AES key both parties derive: the raw 32-byte X coordinate of ECDH."""
    if isinstance(private, str):
        private = load_private_key(private)
    if isinstance(public, str):
        public = load_public_key(public)
    return private.exchange(ec.ECDH(), public)


@functools.lru_cache(maxsize=CIPHER_CACHE_SIZE)
def _cipher(key: bytes) -> AESGCM:
    """AES-256-GCM with ``key``, prepared once: setting a key up (0.9 µs) costs more than opening a short message."""
    return AESGCM(key)


def encrypt(plaintext: str | bytes, key: bytes, iv: bytes | None = None) -> str:
    """Seal ``plaintext`` with AES-256-GCM; return base64(IV || ciphertext || tag).

    ``iv`` is 16 random bytes unless given (tests pass a fixed one).
    """
    if isinstance(plaintext, str):
        plaintext = plaintext.encode("utf-8")
    if iv is None:
        iv = os.urandom(IV_SIZE)
    sealed = _cipher(key).encrypt(iv, plaintext, None)
    return base64.b64encode(iv + sealed).decode("ascii")


def decrypt(token: str | bytes, key: bytes) -> bytes:
    """Open base64(IV[16] || ciphertext || tag[16]) sealed with ``key``.

    Raises :class:`DecryptionFailed` for anything that is not such a token made with this key.
    """
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionFailed("not valid base64") from exc
    if len(raw) < IV_SIZE + TAG_SIZE:
        raise DecryptionFailed("too short to hold an IV and a tag")
    try:
        return _cipher(key).decrypt(raw[:IV_SIZE], raw[IV_SIZE:], None)
    except InvalidTag as exc:
        raise DecryptionFailed("authentication tag does not match") from exc


def decrypt_text(token: str | bytes, key: bytes) -> str:
    """Like :func:`decrypt`, for a UTF-8 plaintext."""
    try:
        return decrypt(token, key).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecryptionFailed("plaintext is not UTF-8") from exc
