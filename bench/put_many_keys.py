"""Issue 11 finding 7: CPU of one bogus 1 MB /put with 1 and with 100 registered client keys.

Compares the mock's verifier (one decode, one hash, one RSA operation per key) with what it did
before (pyjwt decoding the whole token once per key). Run: python bench/put_many_keys.py
"""

from __future__ import annotations

import time

import jwt

from eventclient import jws
from mockserver import create_app


def pyjwt_per_key(token: str, keys: list) -> None:
    for key in keys:
        try:
            jwt.api_jws.decode_complete(token, key, algorithms=["RS256"])
        except jwt.exceptions.InvalidSignatureError:
            continue


def main() -> None:
    pairs = [jws.generate_rsa_keypair(2048) for _ in range(100)]
    stranger = jws.generate_rsa_keypair(2048)
    token = jws.sign_jws({"eventSourceId": "s", "eventType": "t", "pad": "x" * 1_000_000}, stranger.private_pem)
    for count in (1, 100):
        app = create_app({"DATABASE": ":memory:", "MAX_CONTENT_LENGTH": 2 * 1024 * 1024})
        client = app.test_client()
        for pair in pairs[:count]:
            client.post("/__admin/tenduke/clients", json={"publicKeyPem": pair.public_pem})
        started = time.process_time()
        for _ in range(5):
            assert client.post("/put", data=token, content_type="application/jose").status_code == 401
        mock_cpu = (time.process_time() - started) / 5
        keys = [jws.load_rsa_public_key(p.public_pem) for p in pairs[:count]]
        started = time.process_time()
        pyjwt_per_key(token, keys)
        old_cpu = time.process_time() - started
        print(f"{count:3d} keys: mock /put {mock_cpu * 1000:7.1f} ms CPU; pyjwt once per key {old_cpu * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
