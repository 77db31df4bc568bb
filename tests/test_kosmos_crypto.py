"""Unit tests of eventclient.kosmos_crypto on fixed vectors (conformance/vectors/kosmos_crypto.json)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from eventclient import kosmos_crypto
from eventclient.exceptions import CryptoError, DecryptionFailed, InvalidKeyEncoding

VECTORS = json.loads((Path(__file__).parents[1] / "conformance" / "vectors" / "kosmos_crypto.json").read_text())


@pytest.mark.parametrize("pair", VECTORS["keypairs"], ids=lambda p: p["name"])
def test_public_key_of_private_key(pair: dict[str, str]) -> None:
    """Public keys computed by Node.js; the first pair is the one published in a vendor README."""
    private = kosmos_crypto.load_private_key(pair["privateKey"])
    assert kosmos_crypto.encode_public_key(private.public_key()) == pair["publicKey"]


def test_vector_private_key_lengths() -> None:
    lengths = [len(base64.b64decode(p["privateKey"])) for p in VECTORS["keypairs"]]
    assert lengths == [32, 31, 33]


@pytest.mark.parametrize("case", VECTORS["ecdh"])
def test_shared_key_matches_node_and_is_symmetric(case: dict[str, str]) -> None:
    expected = base64.b64decode(case["sharedKey"])
    assert kosmos_crypto.shared_key(case["privateKey"], case["publicKey"]) == expected
    assert kosmos_crypto.shared_key(case["peerPrivateKey"], case["peerPublicKey"]) == expected
    assert len(expected) == 32


@pytest.mark.parametrize("case", VECTORS["aesgcm"], ids=lambda c: c["name"])
def test_decrypt_node_ciphertext(case: dict[str, str]) -> None:
    key = base64.b64decode(case["key"])
    assert kosmos_crypto.decrypt_text(case["token"], key) == case["plaintext"]


@pytest.mark.parametrize("case", VECTORS["aesgcm"], ids=lambda c: c["name"])
def test_encrypt_with_fixed_iv_matches_node(case: dict[str, str]) -> None:
    key, iv = base64.b64decode(case["key"]), base64.b64decode(case["iv"])
    assert kosmos_crypto.encrypt(case["plaintext"], key, iv=iv) == case["token"]


def test_round_trip_with_random_iv_differs_each_time() -> None:
    a, b = kosmos_crypto.generate_keypair(), kosmos_crypto.generate_keypair()
    key = kosmos_crypto.shared_key(a.private_key, b.public_key)
    first, second = kosmos_crypto.encrypt("héllo", key), kosmos_crypto.encrypt("héllo", key)
    assert first != second
    assert kosmos_crypto.decrypt_text(first, kosmos_crypto.shared_key(b.private_key, a.public_key)) == "héllo"
    assert len(base64.b64decode(first)) == 16 + len("héllo".encode()) + 16


def test_generated_private_key_reloads() -> None:
    pair = kosmos_crypto.generate_keypair()
    private = kosmos_crypto.load_private_key(pair.private_key)
    assert kosmos_crypto.encode_public_key(private.public_key()) == pair.public_key
    assert kosmos_crypto.encode_private_key(private) == pair.private_key


def test_65_byte_prefixed_public_key_is_accepted() -> None:
    raw = base64.b64decode(VECTORS["keypairs"][0]["publicKey"])
    key = kosmos_crypto.load_public_key(base64.b64encode(b"\x04" + raw).decode())
    assert kosmos_crypto.encode_public_key(key) == VECTORS["keypairs"][0]["publicKey"]


@pytest.mark.parametrize(
    "text",
    [
        "not base64!",
        base64.b64encode(b"\x01" * 63).decode(),  # one byte short
        base64.b64encode(b"\x05" + b"\x01" * 64).decode(),  # 65 bytes without the 0x04 prefix
        base64.b64encode(b"\x00" * 64).decode(),  # not on the curve
        base64.b64encode(b"\x01" * 64).decode(),  # not on the curve
    ],
)
def test_bad_public_keys(text: str) -> None:
    with pytest.raises(InvalidKeyEncoding):
        kosmos_crypto.load_public_key(text)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00" * 32, b"\xff" * 32, b"\x01" * 34],
    ids=["empty", "zero", "above order", "34 bytes"],
)
def test_bad_private_keys(raw: bytes) -> None:
    with pytest.raises(InvalidKeyEncoding):
        kosmos_crypto.load_private_key(base64.b64encode(raw).decode())


def test_tampered_truncated_and_wrong_key_ciphertexts_fail() -> None:
    case = VECTORS["aesgcm"][0]
    key = base64.b64decode(case["key"])
    raw = bytearray(base64.b64decode(case["token"]))
    raw[20] ^= 1
    with pytest.raises(DecryptionFailed):
        kosmos_crypto.decrypt(base64.b64encode(bytes(raw)), key)
    with pytest.raises(DecryptionFailed):
        kosmos_crypto.decrypt(base64.b64encode(bytes(raw[:31])), key)
    with pytest.raises(DecryptionFailed):
        kosmos_crypto.decrypt(case["token"], bytes(32))
    with pytest.raises(DecryptionFailed):
        kosmos_crypto.decrypt("%%%", key)


def test_every_crypto_error_has_one_root() -> None:
    assert issubclass(DecryptionFailed, CryptoError)
    assert issubclass(InvalidKeyEncoding, CryptoError)
