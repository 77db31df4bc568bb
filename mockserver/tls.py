"""https for the mock: a certificate authority of its own and a server certificate for the loopback names.

The vendors' 1Kosmos helpers hard-code ``https://``. The mock makes (with ``cryptography``) a CA
and a server certificate for ``localhost``, ``127.0.0.1`` and ``::1`` (and the ``--host`` it binds,
if another), keeps them in a directory beside its database, and reuses them on the next start, so
a client trusts the CA file once. Nothing here serves: :mod:`mockserver.serving` takes the files.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LOOPBACK_NAMES", "TlsFiles", "ensure_certificates", "tls_dir_for", "trust_instructions"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""The names every server certificate of the mock is valid for."""
CA_DAYS = 3650
SERVER_DAYS = 397
"""Validity of a server certificate: within what browsers and Apple's clients accept."""
RENEW_DAYS = 30
"""A server certificate expiring within this many days is made anew at start."""


@dataclass(frozen=True)
class TlsFiles:
    """The mock's CA certificate and its server certificate and key, as files."""

    directory: Path

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM) a client trusts."""
        return self.directory / "ca.pem"

    @property
    def cert_file(self) -> Path:
        """The server certificate (PEM)."""
        return self.directory / "server.pem"

    @property
    def key_file(self) -> Path:
        """The server certificate's private key (PEM, readable by its owner only)."""
        return self.directory / "server-key.pem"

    @property
    def ca_key_file(self) -> Path:
        """The CA's private key (readable by its owner only), kept to sign a new server certificate later."""
        return self.directory / "ca-key.pem"

    def server_context(self) -> ssl.SSLContext:
        """A TLS 1.2+ server context with the server certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def tls_dir_for(database: str) -> Path:
    """Where the certificates of a mock on ``database`` are kept: beside a SQLite file (``<stem>-tls``).

    For ``:memory:`` and PostgreSQL, in the user's data directory (``$XDG_DATA_HOME/eventdouble/tls``).
    """
    if database != ":memory:" and "://" not in database:
        path = Path(database).expanduser().resolve()
        return path.with_name(f"{path.stem}-tls")
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "eventdouble" / "tls"


def _names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys((*LOOPBACK_NAMES, *hosts)):
        host = host.strip("[]")
        if host in ("", "0.0.0.0", "::"):  # "every address" is no name a client connects to
            continue
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host.lower()))
    return names


def _write(path: Path, data: bytes, private: bool = False) -> None:
    temporary = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    with os.fdopen(os.open(temporary, flags, 0o600 if private else 0o644), "wb") as handle:
        handle.write(data)
    temporary.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _make_ca(files: TlsFiles, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eventdouble local CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # certificate and CRL signing only
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(files.ca_key_file, _key_pem(key), private=True)
    _write(files.ca_file, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _ca(files: TlsFiles, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = _load(files.ca_file)
    try:
        key = serialization.load_pem_private_key(files.ca_key_file.read_bytes(), None)
    except (OSError, ValueError, TypeError):
        key = None
    usable = (
        cert is not None
        and isinstance(key, ec.EllipticCurvePrivateKey)
        and cert.public_key() == key.public_key()
        and cert.not_valid_after_utc > now + dt.timedelta(days=SERVER_DAYS)
    )
    if not usable:
        return _make_ca(files, now)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and cert is not None
    return cert, key


def _server_usable(files: TlsFiles, ca: x509.Certificate, names: list[x509.GeneralName], now: dt.datetime) -> bool:
    cert = _load(files.cert_file)
    if cert is None or not files.key_file.exists() or cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
        covered = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except Exception:  # noqa: BLE001 - any fault in an old file: make a new one
        return False
    return set(names) <= covered and cert.not_valid_after_utc > now + dt.timedelta(days=RENEW_DAYS)


def ensure_certificates(directory: Path, hosts: tuple[str, ...] = ()) -> TlsFiles:
    """The CA and a server certificate valid for the loopback names and ``hosts``, made if missing.

    Kept files are reused while the server certificate covers the names and has more than
    :data:`RENEW_DAYS` left; the CA is kept as long as it lasts, so a client trusts it once.
    """
    files = TlsFiles(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca, ca_key = _ca(files, now)
    names = _names(hosts)
    if _server_usable(files, ca, names, now):
        return files
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eventdouble mock")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(files.key_file, _key_pem(key), private=True)
    _write(files.cert_file, cert.public_bytes(serialization.Encoding.PEM))
    return files


def trust_instructions(files: TlsFiles) -> list[str]:
    """How to make a client trust the mock's CA, one line per client kind."""
    ca = files.ca_file
    return [
        f"  CA certificate       {ca}   (trust it once; it is kept for the next start)",
        f"    Python             SSL_CERT_FILE={ca} REQUESTS_CA_BUNDLE={ca}   (these replace the system's CAs)",
        f"    Node               NODE_EXTRA_CA_CERTS={ca}",
        f"    Java               keytool -importcert -noprompt -alias eventdouble -file {ca}"
        " -keystore <truststore> -storepass <password>",
        f"    curl               curl --cacert {ca} ...",
    ]
