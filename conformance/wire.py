"""The kit's own wire code, built on raw ``cryptography`` primitives and independent of ``eventclient``.

The mock and the clients share ``eventclient``; if the kit used it too, a bug there would make
the kit and the mock agree and go unnoticed. Every probe that must prove the wire format is
built here instead, and :func:`self_test` proves this code on fixed vectors made by Node.js
(``conformance/vectors/``) before any check runs.
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "CURVES",
    "HASHES",
    "ORDERS",
    "b64url",
    "curve_of",
    "ecdh_key",
    "encode_public",
    "kosmos_vectors",
    "load_vectors",
    "open_envelope",
    "rsa_compact_jws",
    "seal",
    "self_test",
]

HASHES = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512}


class WireSelfTestFailed(Exception):
    """The kit's own wire code does not reproduce a fixed vector: its verdicts cannot be trusted."""


@cache
def load_vectors(name: str) -> dict[str, Any]:
    """A vector file shipped with the kit (``kosmos_crypto``, ``jws_rsa``, ``rfc7638``)."""
    text = resources.files("conformance").joinpath("vectors", f"{name}.json").read_text(encoding="utf-8")
    value: dict[str, Any] = json.loads(text)
    return value


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


CURVES: dict[str, ec.EllipticCurve] = {"secp256k1": ec.SECP256K1(), "prime256v1": ec.SECP256R1()}
"""The curves a 1Kosmos service may use, by the name its ``EC_CURVE_NAME`` gives (the vendor's helpers take both)."""
ORDERS = {
    "secp256k1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    "prime256v1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
}
"""The order n of each curve's group."""


def curve_of(public_b64: str) -> str | None:
    """The name of the curve in :data:`CURVES` a wire public key (base64 X||Y) lies on, or None."""
    try:
        point = b"\x04" + base64.b64decode(public_b64, validate=True)
    except ValueError:  # binascii.Error is one
        return None
    for name, curve in CURVES.items():
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        except ValueError:
            continue
        return name
    return None


@lru_cache(maxsize=256)
def ecdh_key(private_b64: str, public_b64: str, curve: str = "secp256k1") -> bytes:
    """The raw X coordinate of ECDH on ``curve``: private = big-endian scalar, public = X||Y.

    Remembered: a caller encrypts every header of every request to the same key pair.
    """
    scalar = int.from_bytes(base64.b64decode(private_b64), "big")
    private = ec.derive_private_key(scalar, CURVES[curve])
    public = ec.EllipticCurvePublicKey.from_encoded_point(CURVES[curve], b"\x04" + base64.b64decode(public_b64))
    return private.exchange(ec.ECDH(), public)


def encode_public(key: ec.EllipticCurvePublicKey) -> str:
    """A public key in the 1Kosmos wire form: base64 of the raw point X||Y."""
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.b64encode(point[1:]).decode("ascii")


def seal(plaintext: bytes, key: bytes, iv: bytes | None = None) -> str:
    """base64(IV || AES-256-GCM ciphertext || tag), no AAD; a random 16-byte IV unless given."""
    iv = os.urandom(16) if iv is None else iv
    return base64.b64encode(iv + AESGCM(key).encrypt(iv, plaintext, None)).decode("ascii")


def open_envelope(token: str, key: bytes) -> bytes | None:
    """The plaintext of a :func:`seal` token, or None if it does not open with ``key``."""
    try:
        raw = base64.b64decode(token, validate=True)
        return AESGCM(key).decrypt(raw[:16], raw[16:], None)
    except (ValueError, InvalidTag):
        return None


def rsa_compact_jws(header: dict[str, Any], payload: bytes, private_key: rsa.RSAPrivateKey, alg: str = "RS256") -> str:
    """A compact JWS assembled by hand: base64url segments and an RSASSA-PKCS1-v1_5 signature."""
    return rsa_compact_jws_raw(json.dumps(header, separators=(",", ":")).encode(), payload, private_key, alg)


def rsa_compact_jws_raw(header: bytes, payload: bytes, private_key: rsa.RSAPrivateKey, alg: str = "RS256") -> str:
    """A compact JWS of exactly these header and payload bytes, for headers no JSON encoder would write."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    return f"{signing_input}.{b64url(_sign(signing_input.encode(), private_key, alg))}"


def _sign(data: bytes, private_key: rsa.RSAPrivateKey, alg: str) -> bytes:
    return private_key.sign(data, padding.PKCS1v15(), HASHES[alg]())


def kosmos_vectors(curve: str) -> dict[str, Any]:
    """The fixed 1Kosmos vectors (key pairs, ECDH, AES-GCM) of ``curve``."""
    return load_vectors("kosmos_crypto" if curve == "secp256k1" else f"kosmos_crypto_{curve}")


def _self_test_kosmos() -> None:
    for curve in CURVES:
        vectors = kosmos_vectors(curve)
        for case in vectors["ecdh"]:
            shared = base64.b64decode(case["sharedKey"])  # both sides derive it: my private and the peer's public
            if {
                ecdh_key(case["privateKey"], case["publicKey"], curve),
                ecdh_key(case["peerPrivateKey"], case["peerPublicKey"], curve),
            } != {shared}:
                raise WireSelfTestFailed(f"{curve} ECDH of {case['privateKey'][:8]}... does not match the vector")
    vectors = load_vectors("kosmos_crypto")
    for case in vectors["aesgcm"]:
        key, iv = base64.b64decode(case["key"]), base64.b64decode(case["iv"])
        if seal(case["plaintext"].encode(), key, iv) != case["token"]:
            raise WireSelfTestFailed(f"AES-GCM vector {case['name']!r} does not match")
        if open_envelope(case["token"], key) != case["plaintext"].encode():
            raise WireSelfTestFailed(f"AES-GCM vector {case['name']!r} does not open")


def _self_test_jws() -> None:
    vectors = load_vectors("jws_rsa")
    private = serialization.load_pem_private_key(vectors["privateKeyPem"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    for case in vectors["jws"]:
        made = rsa_compact_jws(json.loads(case["header"]), case["payload"].encode(), private, case["alg"])
        # the vector's header is Node's JSON.stringify, which has no spaces either
        if made != case["token"]:
            raise WireSelfTestFailed(f"{case['alg']} JWS vector does not match")


def self_test() -> None:
    """Check the kit's wire code on the fixed vectors; raise WireSelfTestFailed on a mismatch."""
    _self_test_kosmos()
    _self_test_jws()
