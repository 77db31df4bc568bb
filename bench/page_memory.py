"""Issue 11 finding 8: peak memory of one 10Duke feed page and one admin listing of large events.

With the byte budget (MAX_PAGE_BYTES, 8 MiB) and without it (as before). Run:
python bench/page_memory.py [N]: N events of 700 kB each (default 100), in a temporary database.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from eventclient import jws
from mockserver import create_app


def peak_mib(call: Callable[[], Any]) -> float:
    """Peak traced memory (MiB) while ``call`` runs."""
    tracemalloc.start()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def fill(client: FlaskClient, private_pem: str, count: int) -> None:
    for n in range(count):
        event = {"eventSourceId": "big", "eventType": "t", "n": n, "pad": "x" * 700_000}
        body = jws.sign_jws(event, private_pem)
        assert client.post("/put", data=body, content_type="application/jose").status_code == 200


def measure(db: str, budget: int, token: str) -> tuple[float, float]:
    client = create_app({"DATABASE": db, "MAX_PAGE_BYTES": budget}).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    feed = peak_mib(lambda: client.get("/get/big?after=0&maxEventCount=10000", headers=auth))
    admin = peak_mib(lambda: client.get("/__admin/events?api=tenduke&limit=100000"))
    return feed, admin


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    pair = jws.generate_rsa_keypair(2048)
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "pages.sqlite")
        writer = create_app({"DATABASE": db}).test_client()
        writer.post("/__admin/tenduke/clients", json={"publicKeyPem": pair.public_pem})
        fill(writer, pair.private_pem, count)
        token = jws.sign_bearer({"*": True, "exp": int(time.time()) + 600}, pair.private_pem)
        for budget, label in ((8 * 2**20, "MAX_PAGE_BYTES 8 MiB"), (2**62, "no byte budget (before)")):
            feed, admin = measure(db, budget, token)
            print(f"{count} events of 700 kB, {label:24s} feed page {feed:7.1f} MiB, admin listing {admin:7.1f} MiB")


if __name__ == "__main__":
    main()
