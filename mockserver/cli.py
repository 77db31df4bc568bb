"""The ``eventdouble`` command: serve the mock, make keys."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from conformance.cli import add_conform_command
from eventclient import jws, kosmos_crypto
from mockserver.cli_client import add_client_commands

__all__ = ["main"]

DESCRIPTION = """\
eventdouble: a mock server with real crypto for the 1Kosmos Events API (ECDH/AES-GCM headers)
and the 10Duke Event Data API (RSA JWS). Run `eventdouble COMMAND --help` for the options of a command."""


def _serve(args: argparse.Namespace) -> int:
    from mockserver import create_app
    from mockserver.backend import backend_of, current_backend
    from mockserver.seed import SeedError, apply_seed, load_seed
    from mockserver.serving import listen, serve_threaded, serve_workers

    if args.workers < 1:
        print("eventdouble: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and args.db == ":memory:":
        print("eventdouble: --workers needs a database file (each worker would get its own :memory:)", file=sys.stderr)
        return 2
    try:
        seed = load_seed(args.seed) if args.seed else None
    except SeedError as exc:
        print(f"eventdouble: {exc}", file=sys.stderr)
        return 2
    config: dict[str, object] = {"DATABASE": args.db, "ADMIN_ENABLED": not args.no_admin}
    if args.rate_limit:
        config["RATE_LIMIT"], config["RATE_LIMIT_WINDOW"] = args.rate_limit
    try:
        app = create_app(config)
    except Exception as exc:  # noqa: BLE001 - a bad --db path or a corrupt file: say it, no traceback
        print(f"eventdouble: cannot open database {args.db}: {exc}", file=sys.stderr)
        return 2
    with app.app_context():
        backend = current_backend()
        try:
            for line in apply_seed(backend, seed) if seed else []:
                print(f"seed: {line}")
        except SeedError as exc:
            print(f"eventdouble: {exc}", file=sys.stderr)
            return 2
        if not backend.kosmos.licenses():
            record = backend.kosmos.create_license({"authLevel": "system", "tag": "development license"})
            assert record is not None
            print(f"created a system-level development license: {record.license_key}")
        public_key = backend.kosmos.primary_key().public_key
        clients = len(backend.tenduke.clients())
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        print(f"eventdouble: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    base = f"http://{args.host}:{sock.getsockname()[1]}"
    mode = f"{args.workers} gunicorn worker(s)" if args.workers > 1 else "one process"
    print(f"eventdouble mock serving on {base} (database: {args.db}; {mode})")
    print(f"  1Kosmos Events API   {base}/events   (service public key {public_key})")
    print(f"  1Kosmos event query  {base}/reports")
    print(f"  10Duke Event Data    {base}/put, {base}/get/<feed>   ({clients} client key(s) registered)")
    if not args.no_admin:
        print(f"  admin API            {base}/__admin   (licenses: {base}/__admin/licenses)")
    print(f"  OpenAPI specs        {base}/openapi/kosmos-events.yaml, {base}/openapi/tenduke-events.yaml")
    print("Press Ctrl+C to stop.", flush=True)
    if args.workers == 1:
        serve_threaded(app, sock)
        return 0
    backend_of(app).db.close()  # each worker opens its own; a connection must not cross a fork
    serve_workers(config, sock, args.workers, int(app.config["MAX_HEADER_LENGTH"]))
    return 0


def _keys(args: argparse.Namespace) -> int:
    if args.api == "tenduke":
        if args.bits < jws.MIN_RSA_BITS:
            print(f"eventdouble: --bits must be at least {jws.MIN_RSA_BITS}", file=sys.stderr)
            return 2
        rsa_pair = jws.generate_rsa_keypair(args.bits)
        if args.json:
            print(json.dumps({"privateKeyPem": rsa_pair.private_pem, "publicKeyPem": rsa_pair.public_pem}, indent=2))
        else:
            print(rsa_pair.private_pem + rsa_pair.public_pem, end="")
        return 0
    pair = kosmos_crypto.generate_keypair()
    if args.json:
        print(json.dumps({"privateKey": pair.private_key, "publicKey": pair.public_key}, indent=2))
    else:
        print(f"privateKey: {pair.private_key}")
        print(f"publicKey:  {pair.public_key}")
    return 0


def _rate(text: str) -> tuple[int, float]:
    """Parse ``N`` or ``N/SECONDS`` for --rate-limit."""
    count, _, seconds = text.partition("/")
    try:
        value = int(count), float(seconds or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N or N/SECONDS, e.g. 100/60") from None
    if value[0] < 1 or value[1] <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: N must be at least 1 and SECONDS more than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``eventdouble``."""
    parser = argparse.ArgumentParser(prog="eventdouble", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the mock server",
        description="Run the mock. State (events, licenses, the server key pair) lives in an SQLite "
        "file and survives restarts. Settings can also come from EVENTDOUBLE_<NAME> variables, "
        "e.g. EVENTDOUBLE_ALLOWED_TIME_SPAN=120.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, loopback only)")
    serve.add_argument("--port", type=int, default=8080, help="port (default: %(default)s; 0 picks a free one)")
    serve.add_argument("--db", default="eventdouble.sqlite", help="SQLite file, or :memory: (default: %(default)s)")
    serve.add_argument(
        "--seed", metavar="FILE", help="YAML or JSON file of licenses and 10Duke client keys to create on start"
    )
    serve.add_argument("--no-admin", action="store_true", help="do not serve the /__admin API")
    serve.add_argument(
        "--rate-limit",
        type=_rate,
        metavar="N[/SECONDS]",
        help="refuse (429) a license or 10Duke client key over N requests per SECONDS (default 1); off unless given",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes under gunicorn (gevent: each serves many connections at once), sharing the "
        "database file (default: %(default)s: one threaded process, for notebooks and quick use; for load "
        "tests try 2 per core)",
    )
    serve.set_defaults(run=_serve)

    keys = commands.add_parser(
        "keys",
        help="print a fresh key pair",
        description="Print a fresh key pair. kosmos: secp256k1 in the 1Kosmos wire encoding (base64). "
        "tenduke: RSA as PEM, the private key (PKCS#8) then the public key; register the public one with "
        "POST /__admin/tenduke/clients or a --seed file.",
    )
    keys.add_argument("api", choices=["kosmos", "tenduke"], help="which API the key pair is for")
    keys.add_argument("--bits", type=int, default=2048, help="tenduke: RSA key size (default: %(default)s)")
    keys.add_argument("--json", action="store_true", help="print JSON")
    keys.set_defaults(run=_keys)

    add_client_commands(commands)
    add_conform_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``eventdouble`` with ``argv`` (default: the process arguments); return the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
