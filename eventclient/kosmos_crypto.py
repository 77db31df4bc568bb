"""The 1Kosmos "ECDSA" scheme: ECDH (secp256k1, or P-256) and AES-256-GCM, bytes in, bytes out.

The curve is secp256k1 unless a service says otherwise: the vendor's helpers read it from the
service's environment (``EC_CURVE_NAME``, default secp256k1) and support P-256 too (OpenSSL's
name ``prime256v1``). Every key function takes ``curve``, a name from :data:`CURVES`.

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
    "CURVES",
    "CURVE_NAME",
    "IV_SIZE",
    "KeyPair",
    "curve_named",
    "curve_of_public_key",
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
"""The default curve, as the vendor's services and helpers default to it."""
IV_SIZE = 16
TAG_SIZE = 16
CURVES: dict[str, ec.EllipticCurve] = {"secp256k1": ec.SECP256K1(), "prime256v1": ec.SECP256R1()}
"""The curves the vendor's helpers support, by the name ``EC_CURVE_NAME`` gives (OpenSSL's, as Node's
``createECDH`` takes it)."""
CURVE_ALIASES = {"p-256": "prime256v1", "secp256r1": "prime256v1", "p256": "prime256v1"}
_ORDERS = {
    "secp256k1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    "prime256v1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
}
"""Order of each curve's group: a private scalar must lie in [1, N-1]."""
CIPHER_CACHE_SIZE = 1024
"""AES keys whose prepared cipher is kept: one party uses one shared key for many messages."""


def curve_named(name: str) -> str:
    """The name in :data:`CURVES` of ``name`` (``P-256`` and ``secp256r1`` are ``prime256v1``); ValueError if none."""
    canonical = CURVE_ALIASES.get(name.strip().lower(), name.strip().lower())
    if canonical not in CURVES:
        raise ValueError(f"curve {name!r} is not one of {', '.join(CURVES)} (or P-256)")
    return canonical


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


def generate_keypair(curve: str = CURVE_NAME) -> KeyPair:
    """Return a fresh key pair on ``curve`` (secp256k1 by default) in wire encoding."""
    private = ec.generate_private_key(CURVES[curve_named(curve)])
    return KeyPair(encode_private_key(private), encode_public_key(private.public_key()))


def encode_public_key(key: ec.EllipticCurvePublicKey) -> str:
    """Encode a public key as base64 of the raw point X||Y."""
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.b64encode(point[1:]).decode("ascii")


def encode_private_key(key: ec.EllipticCurvePrivateKey) -> str:
    """Encode a private key as base64 of its 32-byte big-endian scalar."""
    scalar = key.private_numbers().private_value
    return base64.b64encode(scalar.to_bytes(32, "big")).decode("ascii")


def _point(text: str | bytes) -> bytes:
    raw = _b64decode(text, "public key")
    if len(raw) == 64:
        raw = b"\x04" + raw
    if len(raw) != 65 or raw[0] != 4:
        raise InvalidKeyEncoding("public key must be 64 bytes (X||Y) after base64 decoding")
    return raw


def load_public_key(text: str | bytes, curve: str = CURVE_NAME) -> ec.EllipticCurvePublicKey:
    """Decode a wire public key on ``curve`` (64 raw bytes X||Y; a 65-byte 0x04-prefixed point is also taken)."""
    name = curve_named(curve)
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVES[name], _point(text))
    except ValueError as exc:
        raise InvalidKeyEncoding(f"public key is not a point on {name}") from exc


def curve_of_public_key(text: str | bytes) -> str:
    """The name of the curve in :data:`CURVES` a wire public key lies on (a service's key tells its curve)."""
    raw = _point(text)
    for name, curve in CURVES.items():
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(curve, raw)
        except ValueError:
            continue
        return name
    raise InvalidKeyEncoding(f"public key is a point on none of {', '.join(CURVES)}")


def load_private_key(text: str | bytes, curve: str = CURVE_NAME) -> ec.EllipticCurvePrivateKey:
    """Decode a wire private key on ``curve``: any length up to 33 bytes, read as an unsigned integer."""
    name = curve_named(curve)
    raw = _b64decode(text, "private key")
    if not 1 <= len(raw) <= 33:
        raise InvalidKeyEncoding("private key must be 1 to 33 bytes after base64 decoding")
    scalar = int.from_bytes(raw, "big")
    if not 1 <= scalar < _ORDERS[name]:
        raise InvalidKeyEncoding(f"private key is out of range for {name}")
    return ec.derive_private_key(scalar, CURVES[name])


def shared_key(private: PrivateKeyLike, public: PublicKeyLike, curve: str = CURVE_NAME) -> bytes:
    """Return the AES key both parties derive: the raw 32-byte X coordinate of ECDH on ``curve``.

    Keys given as objects carry their own curve; ``curve`` reads keys given as wire text.
    """
    if isinstance(private, str):
        private = load_private_key(private, curve)
    if isinstance(public, str):
        public = load_public_key(public, curve)
    if private.curve.name != public.curve.name:
        raise InvalidKeyEncoding(f"the keys are on different curves ({private.curve.name}, {public.curve.name})")
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
