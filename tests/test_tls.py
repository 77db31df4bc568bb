"""Issue 26: https, with a certificate the mock makes for the loopback names and a CA of its own to trust."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from mockserver import MockServer
from mockserver.tls import ensure_certificates, tls_dir_for
from tests.conftest import SERVER_MODES
from tests.servers import start_server, stop_server


def trusting(ca_file: str) -> ssl.SSLContext:
    """A client context that trusts only the mock's CA, as ``SSL_CERT_FILE`` makes Python's."""
    return ssl.create_default_context(cafile=ca_file)


def _refused_by_own_check(url: str) -> None:
    """A client that does not trust the mock's CA refuses the connection itself."""
    with pytest.raises(httpx.ConnectError) as refused:
        httpx.get(f"{url}/events/healthz", verify=ssl.create_default_context())
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)


def test_an_in_process_mock_serves_https_to_a_client_that_trusts_its_ca(tmp_path: Path) -> None:
    with MockServer(tls=True, tls_dir=tmp_path / "tls") as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        trusted = httpx.get(f"{srv.url}/reports/publickeys", verify=trusting(srv.ca_file))
        assert trusted.status_code == 200 and trusted.json()["publicKey"]
        localhost = srv.url.replace("127.0.0.1", "localhost")
        assert httpx.get(f"{localhost}/caas/sd", verify=trusting(srv.ca_file)).json()["events"] == f"{localhost}/events"
        _refused_by_own_check(srv.url)


def test_a_plain_mock_has_no_ca_file() -> None:
    with MockServer() as srv:
        assert srv.url.startswith("http://")
        with pytest.raises(RuntimeError, match="tls=True"):
            _ = srv.ca_file


def test_a_silent_connection_does_not_hold_the_https_server(tmp_path: Path) -> None:
    """The TLS handshake runs in the connection's own thread: one that says nothing blocks nobody else."""
    with MockServer(tls=True, tls_dir=tmp_path / "tls") as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)), socket.create_connection(("127.0.0.1", port)):
            started = time.monotonic()
            assert httpx.get(f"{srv.url}/events/healthz", verify=trusting(srv.ca_file), timeout=10).status_code == 200
            assert time.monotonic() - started < 4  # well before the silent ones time out (5 s)
        with pytest.raises(httpx.HTTPError):  # plain http to the https port: closed, no answer
            httpx.get(srv.url.replace("https://", "http://") + "/events/healthz", timeout=10)
        assert httpx.get(f"{srv.url}/events/healthz", verify=trusting(srv.ca_file)).status_code == 200


def test_the_certificates_are_kept_and_reused_and_cover_a_new_host(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path)
    ca, cert = first.ca_file.read_bytes(), first.cert_file.read_bytes()
    assert ensure_certificates(tmp_path).cert_file.read_bytes() == cert  # reused as is
    assert (first.key_file.stat().st_mode & 0o777, first.ca_key_file.stat().st_mode & 0o777) == (0o600, 0o600)
    wider = ensure_certificates(tmp_path, ("mock.internal",))
    assert wider.ca_file.read_bytes() == ca  # the CA a client trusts stays
    names = x509.load_pem_x509_certificate(wider.cert_file.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert {"localhost", "mock.internal"} <= set(names.value.get_values_for_type(x509.DNSName))
    first.cert_file.write_text("not a certificate")
    assert ensure_certificates(tmp_path).cert_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_the_certificates_live_beside_a_sqlite_file(tmp_path: Path) -> None:
    assert tls_dir_for(str(tmp_path / "state.sqlite")) == tmp_path / "state-tls"
    assert tls_dir_for(":memory:").parts[-2:] == ("eventdouble", "tls")


@pytest.fixture(params=list(SERVER_MODES), ids=str)
def served_tls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``eventdouble serve --tls`` in each server mode: its base URL and the CA file its banner names."""
    process, url, banner = start_server("--tls", "--db", str(tmp_path / "mock.sqlite"), *SERVER_MODES[request.param])
    try:
        ca_line = next(line for line in banner.splitlines() if "CA certificate" in line)
        yield url, ca_line.split()[2]
    finally:
        stop_server(process)


def test_serve_tls_in_both_modes(served_tls: tuple[str, str], tmp_path: Path) -> None:
    url, ca_file = served_tls
    assert url.startswith("https://") and ca_file == str(tmp_path / "mock-tls" / "ca.pem")
    assert httpx.get(f"{url}/events/healthz", verify=trusting(ca_file)).status_code == 200
    assert httpx.post(f"{url}/reports/tenant/t/community/c/events", json={}, verify=trusting(ca_file)).json() == {
        "errors": [{"message": "This header should not be empty", "param": "publickey"}]
    }
    _refused_by_own_check(url)
