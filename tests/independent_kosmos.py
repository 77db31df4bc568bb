"""An implementation of the 1Kosmos wire scheme written only with `cryptography` and the stdlib.

It shares no code with eventclient, so tests that sign with it show that the mock speaks the
scheme itself and not just whatever eventclient happens to do.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class IndependentCaller:
    """A caller with its own secp256k1 key pair."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256K1())
        point = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public_b64 = base64.b64encode(point[1:]).decode()

    def key_for(self, server_public_b64: str) -> bytes:
        raw = b"\x04" + base64.b64decode(server_public_b64)
        server = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), raw)
        return self.private.exchange(ec.ECDH(), server)

    @staticmethod
    def seal(text: str, key: bytes) -> str:
        iv = os.urandom(16)
        return base64.b64encode(iv + AESGCM(key).encrypt(iv, text.encode(), None)).decode()

    @staticmethod
    def open(token: str, key: bytes) -> str:
        raw = base64.b64decode(token)
        return AESGCM(key).decrypt(raw[:16], raw[16:], None).decode()

    def headers(self, server_public_b64: str, license_key: str, ts: float | None = None) -> dict[str, str]:
        key = self.key_for(server_public_b64)
        request_id = {"ts": int(time.time() if ts is None else ts), "uuid": str(uuid.uuid4()), "appid": "independent"}
        return {
            "publickey": self.public_b64,
            "licensekey": self.seal(license_key, key),
            "requestid": self.seal(json.dumps(request_id), key),
        }
