"""RSA JWS for the 10Duke Event Data API: sign and verify compact JWS and bearer JWTs.

Signing goes through pyjwt. Verifying takes the token apart once, checks the header against an
explicit allow-list (RS256, RS384, RS512) before any key is looked at, hashes the signing input
once and then tries each registered key with one RSA operation, so the work per request does not
grow with the number of keys beyond the signature checks. No IO.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from eventclient import strict_json
from eventclient.exceptions import (
    AlgorithmNotAllowed,
    InvalidKeyEncoding,
    KeyTooWeak,
    MalformedJws,
    SignatureInvalid,
    TokenExpired,
)

__all__ = [
    "ALLOWED_ALGORITHMS",
    "MIN_RSA_BITS",
    "PemKeyPair",
    "VerifiedJws",
    "generate_rsa_keypair",
    "load_public_key_any",
    "load_rsa_private_key",
    "load_rsa_public_key",
    "public_pem_of",
    "sign_bearer",
    "sign_jws",
    "thumbprint",
    "verify_bearer",
    "verify_jws",
]

ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512")
MIN_RSA_BITS = 2048

KeyRing = Sequence[tuple[str, rsa.RSAPublicKey]]  # (key id, key); key ids are matched against ``kid``


@dataclass(frozen=True)
class PemKeyPair:
    """An RSA key pair as PEM text (PKCS#8 private, SubjectPublicKeyInfo public)."""

    private_pem: str
    public_pem: str


@dataclass(frozen=True)
class VerifiedJws:
    """A verified JWS: its header, its payload bytes and the id of the key that verified it."""

    header: dict[str, Any]
    payload: bytes
    key_id: str


def generate_rsa_keypair(bits: int = 2048) -> PemKeyPair:
    """A fresh RSA key pair of ``bits`` bits, as PEM."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return PemKeyPair(private_pem, public_pem)


def _load_pem_public_key(pem: str | bytes) -> Any:
    try:
        return serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError) as exc:
        raise InvalidKeyEncoding("not a PEM public key") from exc


def load_rsa_public_key(pem: str | bytes, min_bits: int = MIN_RSA_BITS) -> rsa.RSAPublicKey:
    """Parse a PEM public key; refuse anything but RSA of at least ``min_bits`` bits."""
    key = _load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyTooWeak(f"not an RSA key ({type(key).__name__.removeprefix('_')})")
    if key.key_size < min_bits:
        raise KeyTooWeak(f"RSA key of {key.key_size} bits; at least {min_bits} are required")
    return key


def load_public_key_any(pem: str | bytes) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """Parse a PEM RSA (any size) or EC public key, for records of keys that must not be used."""
    key = _load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise KeyTooWeak(f"not an RSA or EC key ({type(key).__name__.removeprefix('_')})")
    return key


def public_pem_of(pem: str | bytes) -> str:
    """The SubjectPublicKeyInfo PEM of a PEM public key, or of the public half of a PEM private key."""
    text = pem.decode() if isinstance(pem, bytes) else pem
    if "PRIVATE KEY" in text:
        key: Any = load_rsa_private_key(text).public_key()
    else:
        key = _load_pem_public_key(text)
    return str(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())


def load_rsa_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    """Parse an unencrypted PEM RSA private key."""
    key = _parse_private_pem(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyTooWeak("not an RSA private key")
    return key


@functools.lru_cache(maxsize=32)
def _parse_private_pem(pem: bytes) -> Any:
    """The key in ``pem``, parsed once.

    Checking an RSA private key costs some 40 ms, and a client signs every request with the same
    few keys (key objects are immutable, safe to share).
    """
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidKeyEncoding("not an unencrypted PEM private key") from exc


def _b64url_uint(value: int, size: int | None = None) -> str:
    """base64url of an unsigned integer, in ``size`` bytes or the fewest that hold it."""
    raw = value.to_bytes(size or (value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | Mapping[str, str]) -> str:
    """The RFC 7638 JWK SHA-256 thumbprint of an RSA or EC public key (or of an RSA JWK), base64url."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    elif isinstance(key, ec.EllipticCurvePublicKey):
        point, size = key.public_numbers(), (key.curve.key_size + 7) // 8
        members = {
            "crv": f"P-{key.curve.key_size}",
            "kty": "EC",
            "x": _b64url_uint(point.x, size),
            "y": _b64url_uint(point.y, size),
        }
    else:
        members = {"e": key["e"], "kty": key["kty"], "n": key["n"]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
}
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class _Compact:
    """A compact JWS taken apart once: header checked, segments decoded, the input to the signature."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes


def _base64url(segment: bytes, what: str) -> bytes:
    """Decode unpadded base64url (RFC 7515 2), refusing any other character."""
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise MalformedJws(f"not a compact JWS: the {what} is not base64url-encoded")
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def _check_header(header: Any) -> dict[str, Any]:
    """``header`` once it is an object whose ``alg`` is on the allow-list, with no critical extension."""
    if not isinstance(header, dict):
        raise MalformedJws("not a compact JWS: the header is not a JSON object")
    algorithm = header.get("alg")
    if algorithm not in ALLOWED_ALGORITHMS:
        raise AlgorithmNotAllowed(f"alg {algorithm!r} is not allowed; use one of {', '.join(ALLOWED_ALGORITHMS)}")
    if "crit" in header or "b64" in header:  # RFC 7515 4.1.11: no extension is understood, so none may be critical
        raise AlgorithmNotAllowed("critical header extensions ('crit', 'b64') are not supported")
    if "kid" in header and not isinstance(header["kid"], str):
        raise MalformedJws("not a compact JWS: 'kid' must be a string")
    return header


def _parse(token: str | bytes) -> _Compact:
    """Split and decode a compact JWS, once, whatever the number of keys it is later tried with."""
    try:
        raw = (token.encode("ascii") if isinstance(token, str) else bytes(token)).strip()
    except UnicodeEncodeError:
        raise MalformedJws("not a compact JWS: it holds characters outside ASCII") from None
    parts = raw.split(b".")
    if len(parts) != 3:
        raise MalformedJws("not a compact JWS: expected three parts separated by dots")
    try:
        header = strict_json.loads(_base64url(parts[0], "header"))
    except strict_json.JsonRefused as exc:
        raise MalformedJws(f"not a compact JWS: the header is not JSON ({exc})") from exc
    return _Compact(
        header=_check_header(header),
        payload=_base64url(parts[1], "payload"),
        signing_input=parts[0] + b"." + parts[1],
        signature=_base64url(parts[2], "signature"),
    )


def _verifying_key(compact: _Compact, keys: KeyRing) -> str | None:
    """The id of the first key in ``keys`` the signature verifies with; None if none does.

    The signing input is hashed once; each key then costs one RSA public-key operation.
    """
    algorithm = _HASHES[compact.header["alg"]]()
    hasher = hashes.Hash(algorithm)
    hasher.update(compact.signing_input)
    digest = hasher.finalize()
    for key_id, key in _ordered(keys, compact.header.get("kid")):
        try:
            key.verify(compact.signature, digest, padding.PKCS1v15(), Prehashed(algorithm))
        except InvalidSignature:
            continue
        return key_id
    return None


def _ordered(keys: KeyRing, kid: Any) -> Iterator[tuple[str, rsa.RSAPublicKey]]:
    """Each distinct key once, the one named by ``kid`` first (a hint only: the others are tried too)."""
    tried: set[int] = set()
    for key_id, key in sorted(keys, key=lambda item: item[0] != kid):
        if id(key) not in tried:
            tried.add(id(key))
            yield key_id, key


def sign_jws(payload: Any, private_pem: str | bytes, algorithm: str = "RS256", kid: str | None = None) -> str:
    """A compact JWS of ``payload`` (bytes as is; anything else as compact JSON)."""
    if algorithm not in ALLOWED_ALGORITHMS:
        raise AlgorithmNotAllowed(f"alg {algorithm!r} is not allowed")
    if not isinstance(payload, bytes):
        payload = json.dumps(payload, separators=(",", ":")).encode()
    headers: dict[str, Any] = {"typ": None}  # the official example header is exactly {"alg": "RS256"}
    if kid:
        headers["kid"] = kid
    return jwt.api_jws.encode(payload, load_rsa_private_key(private_pem), algorithm=algorithm, headers=headers)


def verify_jws(token: str | bytes, keys: KeyRing) -> VerifiedJws:
    """Verify a compact JWS against every key in ``keys``; ``kid``, if known, is tried first."""
    compact = _parse(token)
    key_id = _verifying_key(compact, keys)
    if key_id is None:
        raise SignatureInvalid("the signature does not verify with any registered client key")
    return VerifiedJws(compact.header, compact.payload, key_id)


def sign_bearer(
    claims: Mapping[str, Any], private_pem: str | bytes, algorithm: str = "RS256", kid: str | None = None
) -> str:
    """A bearer JWT of ``claims`` (the official reader always uses RS256)."""
    if algorithm not in ALLOWED_ALGORITHMS:
        raise AlgorithmNotAllowed(f"alg {algorithm!r} is not allowed")
    headers = {"kid": kid} if kid else None
    return jwt.encode(dict(claims), load_rsa_private_key(private_pem), algorithm=algorithm, headers=headers)


def verify_bearer(token: str, keys: KeyRing, now: float, leeway: float = 0) -> tuple[dict[str, Any], str]:
    """Verify a bearer JWT and its time claims at ``now``; return its claims and the key id."""
    compact = _parse(token)
    key_id = _verifying_key(compact, keys)
    if key_id is None:
        raise SignatureInvalid("the token's signature does not verify with any registered client key")
    try:
        claims = strict_json.loads(compact.payload)
    except strict_json.JsonRefused as exc:
        raise MalformedJws(f"not a JWT: the claims are not JSON ({exc})") from exc
    if not isinstance(claims, dict):
        raise MalformedJws("not a JWT: the claims are not a JSON object")
    _check_times(claims, now, leeway)
    return claims, key_id


def _check_times(claims: Mapping[str, Any], now: float, leeway: float) -> None:
    def number(name: str) -> float | None:
        value = claims.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TokenExpired(f"claim {name!r} must be a number (epoch seconds)")
        return float(value)

    exp, nbf = number("exp"), number("nbf")
    if exp is None:
        raise TokenExpired("claim 'exp' is required")
    if exp <= now - leeway:
        raise TokenExpired("the token has expired")
    if nbf is not None and nbf > now + leeway:
        raise TokenExpired("the token is not valid yet (nbf)")
