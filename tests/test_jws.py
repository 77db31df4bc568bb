"""Unit tests of eventclient.jws: the allow-list, key sizes, thumbprints (RFC 7638 vector)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from eventclient import jws
from eventclient.exceptions import AlgorithmNotAllowed, KeyTooWeak, MalformedJws, SignatureInvalid, TokenExpired
from tests.conftest import rsa_pair

RFC7638 = json.loads((Path(__file__).parents[1] / "conformance" / "vectors" / "rfc7638.json").read_text())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_rfc7638_thumbprint_vector() -> None:
    """RFC 7638 section 3.1: the example key's thumbprint."""
    assert jws.thumbprint(RFC7638["jwk"]) == RFC7638["thumbprint"]


def test_thumbprint_of_key_object_matches_its_jwk() -> None:
    key = jws.load_rsa_public_key(rsa_pair().public_pem)
    assert jws.thumbprint(key) == jws.thumbprint(json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key)))


@pytest.mark.parametrize("algorithm", jws.ALLOWED_ALGORITHMS)
def test_sign_and_verify(algorithm: str) -> None:
    pair = rsa_pair()
    token = jws.sign_jws({"eventType": "x"}, pair.private_pem, algorithm)
    assert json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==")) == {"alg": algorithm}
    verified = jws.verify_jws(token, [("k1", jws.load_rsa_public_key(pair.public_pem))])
    assert verified.payload == b'{"eventType":"x"}'
    assert verified.key_id == "k1"


def test_hand_built_jws_verifies() -> None:
    """A JWS assembled from RFC 7515 steps with `cryptography` alone, not pyjwt."""
    pair = rsa_pair()
    private = serialization.load_pem_private_key(pair.private_pem.encode(), None)
    header, payload = b64url(b'{"alg":"RS256"}'), b64url(b'{"eventType":"hand"}')
    signing_input = f"{header}.{payload}"
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    token = f"{signing_input}.{b64url(signature)}"
    assert jws.verify_jws(token, [("k", jws.load_rsa_public_key(pair.public_pem))]).payload == b'{"eventType":"hand"}'


def test_kid_is_a_hint_only() -> None:
    a, b = rsa_pair(slot=0), rsa_pair(slot=1)
    ring = [("a", jws.load_rsa_public_key(a.public_pem)), ("b", jws.load_rsa_public_key(b.public_pem))]
    assert jws.verify_jws(jws.sign_jws({}, b.private_pem, kid="a"), ring).key_id == "b"
    assert jws.verify_jws(jws.sign_jws({}, b.private_pem, kid="unknown"), ring).key_id == "b"


def _forged(header: dict, payload: bytes, signature: bytes = b"") -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(payload)}.{b64url(signature)}"


def test_alg_none_is_refused_before_any_key() -> None:
    with pytest.raises(AlgorithmNotAllowed):
        jws.verify_jws(_forged({"alg": "none"}, b"{}"), [])


def test_hs256_keyed_with_the_public_key_is_refused() -> None:
    """The classic confusion attack: HMAC with the server's RSA public key PEM as the secret."""
    pair = rsa_pair()
    header, payload = b64url(b'{"alg":"HS256"}'), b64url(b"{}")
    mac = hmac.new(pair.public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(AlgorithmNotAllowed):
        jws.verify_jws(f"{header}.{payload}.{b64url(mac)}", [("k", jws.load_rsa_public_key(pair.public_pem))])


def test_es256_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.api_jws.encode(b"{}", key, algorithm="ES256")
    with pytest.raises(AlgorithmNotAllowed):
        jws.verify_jws(token, [])


def test_tampered_payload_and_signature_are_refused() -> None:
    pair = rsa_pair()
    ring = [("k", jws.load_rsa_public_key(pair.public_pem))]
    header, payload, signature = jws.sign_jws({"n": 1}, pair.private_pem).split(".")
    with pytest.raises(SignatureInvalid):
        jws.verify_jws(".".join([header, b64url(b'{"n":2}'), signature]), ring)
    flipped = bytearray(base64.urlsafe_b64decode(signature + "=="))
    flipped[0] ^= 1
    with pytest.raises(SignatureInvalid):
        jws.verify_jws(f"{header}.{payload}.{b64url(bytes(flipped))}", ring)


def test_unknown_key_is_refused() -> None:
    token = jws.sign_jws({}, rsa_pair(slot=1).private_pem)
    with pytest.raises(SignatureInvalid):
        jws.verify_jws(token, [("k", jws.load_rsa_public_key(rsa_pair(slot=0).public_pem))])


@pytest.mark.parametrize("token", ["abc", "a.b", "a.b.c.d", "!!!.e30.", "e30.e30.%%%"])
def test_malformed_jws(token: str) -> None:
    with pytest.raises((MalformedJws, AlgorithmNotAllowed)):
        jws.verify_jws(token, [])


def test_small_and_non_rsa_keys_are_refused() -> None:
    weak = jws.generate_rsa_keypair(1024)
    with pytest.raises(KeyTooWeak, match="1024"):
        jws.load_rsa_public_key(weak.public_pem)
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyTooWeak, match="not an RSA key"):
        jws.load_rsa_public_key(ec_pem)


def test_bearer_times() -> None:
    pair = rsa_pair()
    ring = [("k", jws.load_rsa_public_key(pair.public_pem))]
    now = 1_700_000_000
    good = jws.sign_bearer({"f": True, "exp": now + 60}, pair.private_pem)
    assert jws.verify_bearer(good, ring, now)[0]["f"] is True
    with pytest.raises(TokenExpired, match="expired"):
        jws.verify_bearer(good, ring, now + 61)
    with pytest.raises(TokenExpired, match="'exp' is required"):
        jws.verify_bearer(jws.sign_bearer({"f": True}, pair.private_pem), ring, now)
    with pytest.raises(TokenExpired, match="nbf"):
        jws.verify_bearer(jws.sign_bearer({"exp": now + 60, "nbf": now + 30}, pair.private_pem), ring, now)
    with pytest.raises(TokenExpired, match="number"):
        jws.verify_bearer(jws.sign_bearer({"exp": "soon"}, pair.private_pem), ring, now)


@pytest.mark.parametrize("with_key", [False, True], ids=["no keys", "one key"])
def test_malformed_payload_after_a_good_header_is_malformed_with_or_without_keys(with_key: bool) -> None:
    """Only the header is read before verifying; a bad payload is still a 400, not a bad signature."""
    ring = [("k", jws.load_rsa_public_key(rsa_pair().public_pem))] if with_key else []
    header = jws.sign_jws({}, rsa_pair().private_pem).split(".")[0]
    for verify in (lambda t: jws.verify_jws(t, ring), lambda t: jws.verify_bearer(t, ring, now=0)):
        with pytest.raises(MalformedJws):
            verify(f"{header}.!!!!.c2ln")
