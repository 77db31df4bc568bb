"""The ``eventdouble`` command: serve the mock, make keys."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from conformance.cli import add_conform_command
from eventdouble import __version__
from eventdouble.cli_client import add_client_commands, positive_int

__all__ = ["main"]

DESCRIPTION = """\
eventdouble: a mock server with real crypto for the 1Kosmos Events API (ECDH/AES-GCM headers)
and the 10Duke Event Data API (RSA JWS). Run `eventdouble COMMAND --help` for the options of a command."""


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


FAULT_HELP = """\
add a fault rule on start (repeatable; kept in the database like those added with POST /__admin/faults,
unless an identical one exists): a JSON rule, e.g. '{"path": "^/put$", "status": 503, "rate": 0.5, "seed": 1}',
or a preset: slow-feed[=MS] (every 10Duke feed page MS late, default 2000) or burst[=N[:STATUS]]
(the next N feed pages refused with STATUS, default 3 and 503, then recovery)"""


def fault_rule(text: str) -> dict[str, Any]:
    """A ``--fault`` value as a rule: JSON, ``slow-feed[=MS]`` or ``burst[=N[:STATUS]]``."""
    from mockserver.faults import burst, slow_page

    name, _, value = text.strip().partition("=")
    try:
        if name == "slow-feed":
            return slow_page(int(value or 2000))
        if name == "burst":
            count, _, status = value.partition(":")
            return burst(int(count or 3), int(status or 503))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the preset takes whole numbers, e.g. burst=3:503") from None
    try:
        rule = json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither JSON nor a preset (slow-feed, burst)") from None
    if not isinstance(rule, dict):
        raise argparse.ArgumentTypeError(f"{text!r}: a rule is a JSON object")
    return rule


def _serve_config(args: argparse.Namespace) -> dict[str, object]:
    """The settings the command line gives; the environment and the defaults fill in the rest."""
    config: dict[str, object] = {}
    if args.db is not None:
        config["DATABASE"] = args.db
    if args.no_admin:
        config["ADMIN_ENABLED"] = False
    if args.rate_limit:
        config["RATE_LIMIT"], config["RATE_LIMIT_WINDOW"] = args.rate_limit
    if args.cors:
        config["CORS_ORIGINS"] = args.cors
    if args.admin_token:
        config["ADMIN_TOKEN"] = args.admin_token
    elif not args.admin_open and not _is_loopback(args.host) and not os.environ.get("EVENTDOUBLE_ADMIN_TOKEN"):
        config["ADMIN_TOKEN"] = secrets.token_urlsafe(24)
    if args.admin_open:
        config["ADMIN_TOKEN"], config["ADMIN_HOSTS"] = "", ["*"]
    return config


def _admin_banner(app_config: Mapping[str, Any], base: str, args: argparse.Namespace) -> list[str]:
    if not app_config["ADMIN_ENABLED"]:
        return []
    lines = [
        f"  admin API            {base}/__admin   (licenses: {base}/__admin/licenses)",
        f"  inspector            {base}/__admin/ui   (recent requests and why they were refused, live)",
    ]
    if app_config["ADMIN_TOKEN"]:
        shown = "(the token you gave)" if args.admin_token else app_config["ADMIN_TOKEN"]
        lines.append(f"  the admin API needs a token: Authorization: Bearer {shown}")
    elif args.admin_open and not _is_loopback(args.host):
        lines.append(
            "  WARNING: the admin API is served without a token to anyone who can reach this address: "
            "they can read every license key and register signing keys"
        )
    else:
        lines.append("  the admin API answers this machine only (loopback Host names, no cross-site requests)")
    return lines


def _serve(args: argparse.Namespace) -> int:
    from mockserver import create_app
    from mockserver.backend import backend_of, current_backend
    from mockserver.db import shown_database
    from mockserver.logs import configure_logging
    from mockserver.seed import SeedError, apply_seed, load_seed, with_faults
    from mockserver.serving import listen, serve_threaded, serve_workers
    from mockserver.settings import SettingsInvalid, unknown_variables
    from mockserver.tls import ensure_certificates, tls_dir_for, trust_instructions

    configure_logging()

    for name in unknown_variables(os.environ):
        print(f"eventdouble: warning: {name} is not a setting of the mock; ignored", file=sys.stderr)
    try:
        seed = load_seed(args.seed) if args.seed else None
        if args.fault:
            seed = with_faults(seed or {}, args.fault)
    except SeedError as exc:
        print(f"eventdouble: {exc}", file=sys.stderr)
        return 2
    config = _serve_config(args)
    try:
        app = create_app(config)
    except SettingsInvalid as exc:
        print(f"eventdouble: invalid setting: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bad --db path or a corrupt file: say it, no traceback
        database = config.get("DATABASE") or os.environ.get("EVENTDOUBLE_DATABASE", "eventdouble.sqlite")
        print(f"eventdouble: cannot open database {shown_database(str(database))}: {exc}", file=sys.stderr)
        return 2
    database = str(app.config["DATABASE"])
    if args.workers is not None and database == ":memory:":
        print("eventdouble: --workers needs a database file (each worker would get its own :memory:)", file=sys.stderr)
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
    tls = None
    if args.tls:
        directory = Path(args.tls_dir) if args.tls_dir else tls_dir_for(database)
        try:
            tls = ensure_certificates(directory, (args.host,))
        except OSError as exc:
            print(
                f"eventdouble: cannot keep the TLS certificates in {directory}: {exc.strerror or exc}", file=sys.stderr
            )
            return 2
    try:
        sock = listen(args.host, args.port)
    except (OSError, OverflowError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"eventdouble: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    host = f"[{args.host.strip('[]')}]" if ":" in args.host else args.host  # an IPv6 address, as a URL writes it
    base = f"{'https' if tls else 'http'}://{host}:{sock.getsockname()[1]}"
    mode = "one process" if args.workers is None else f"{args.workers} worker process(es)"
    print(f"eventdouble mock serving on {base} (database: {shown_database(database)}; {mode})")
    print(f"  1Kosmos Events API   {base}/events   (service public key {public_key})")
    print(f"  1Kosmos reports      {base}/reports   (its own key: {base}/reports/publickeys)")
    print(f"  1Kosmos discovery    {base}/caas/sd, {base}/api/r1/system/community_info/fetch")
    print(f"  10Duke Event Data    {base}/put, {base}/get/<feed>   ({clients} client key(s) registered)")
    for line in _admin_banner(app.config, base, args):
        print(line)
    if app.config["CORS_ORIGINS"]:
        print(f"  CORS                 the vendor APIs answer pages from {', '.join(app.config['CORS_ORIGINS'])}")
    print(f"  API docs             {base}/docs   (Swagger UI, offline)")
    print(f"  OpenAPI specs        {base}/openapi/kosmos-events.yaml, {base}/openapi/tenduke-events.yaml")
    if tls is not None:
        print("  https                a certificate for localhost, 127.0.0.1 and ::1, signed by the mock's own CA")
        for line in trust_instructions(tls):
            print(line)
    print("Press Ctrl+C to stop.", flush=True)
    if args.workers is None:
        serve_threaded(app, sock, args.access_log, tls)
    else:
        backend_of(app).close()  # each worker opens its own; a connection must not cross processes
        serve_workers(config, sock, args.workers, args.access_log, tls=tls)
    print("eventdouble: stopped", flush=True)
    return 0


def _keys(args: argparse.Namespace) -> int:
    from eventclient import jws, kosmos_crypto

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
    pair = kosmos_crypto.generate_keypair(args.curve)
    if args.json:
        print(json.dumps({"privateKey": pair.private_key, "publicKey": pair.public_key}, indent=2))
    else:
        print(f"privateKey: {pair.private_key}")
        print(f"publicKey:  {pair.public_key}")
    return 0


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535)")
    return value


def _settings(args: argparse.Namespace) -> int:
    from mockserver.settings import settings_table

    print(settings_table(), end="")
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
    parser.add_argument("--version", action="version", version=f"eventdouble {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the mock server",
        description="Run the mock. State (events, licenses, the server key pair) lives in an SQLite "
        "file and survives restarts. Settings can also come from EVENTDOUBLE_<NAME> variables, "
        "e.g. EVENTDOUBLE_ALLOWED_TIME_SPAN=120.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, loopback only)")
    serve.add_argument("--port", type=port_number, default=8080, help="port (default: %(default)s; 0 picks a free one)")
    serve.add_argument(
        "--db",
        help="SQLite file, :memory:, or postgresql://USER@HOST/DB to share one database between many mock processes"
        " (default: EVENTDOUBLE_DATABASE, or eventdouble.sqlite)",
    )
    serve.add_argument(
        "--seed",
        metavar="FILE",
        help="YAML or JSON file of licenses, 10Duke client keys and fault rules to create on start",
    )
    serve.add_argument("--fault", metavar="RULE", type=fault_rule, action="append", help=FAULT_HELP)
    serve.add_argument(
        "--tls",
        action="store_true",
        help="serve https (the vendors' 1Kosmos helpers call https:// only) with a certificate for localhost, "
        "127.0.0.1 and ::1 that the mock makes, signed by a CA of its own; prints the CA file to trust",
    )
    serve.add_argument(
        "--tls-dir",
        metavar="DIR",
        help="where --tls keeps its CA and certificate (default: beside the SQLite file, DB-tls/; for :memory: "
        "and PostgreSQL, $XDG_DATA_HOME/eventdouble/tls)",
    )
    serve.add_argument("--no-admin", action="store_true", help="do not serve the /__admin API")
    serve.add_argument(
        "--access-log", action="store_true", help="log a line per request (time, level, client, request, status)"
    )
    serve.add_argument(
        "--admin-token",
        metavar="TOKEN",
        help="require Authorization: Bearer TOKEN on the admin API (default: none on loopback; on any other "
        "--host a random token, printed at start; also EVENTDOUBLE_ADMIN_TOKEN)",
    )
    serve.add_argument(
        "--admin-open",
        action="store_true",
        help="serve the admin API without a token and for any Host name, even on a non-loopback --host: "
        "anyone who can reach the port can then read the license keys and register signing keys",
    )
    serve.add_argument(
        "--cors",
        metavar="ORIGIN",
        action="append",
        help="let pages from ORIGIN (e.g. http://localhost:3000, or *) call the vendor APIs; repeatable; off by "
        "default. The admin API never answers other origins",
    )
    serve.add_argument(
        "--rate-limit",
        type=_rate,
        metavar="N[/SECONDS]",
        help="refuse (429) a license or 10Duke client key over N requests per SECONDS (default 1); off unless given",
    )
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="serve with N worker processes (uvicorn: each serves many connections at once on an event loop), "
        "sharing the database file; for load tests, one per core (without it: one threaded process, for "
        "notebooks and quick use)",
    )
    serve.set_defaults(run=_serve)

    keys = commands.add_parser(
        "keys",
        help="print a fresh key pair",
        description="Print a fresh key pair. kosmos: secp256k1 (or --curve) in the 1Kosmos wire encoding (base64). "
        "tenduke: RSA as PEM, the private key (PKCS#8) then the public key; register the public one with "
        "POST /__admin/tenduke/clients or a --seed file.",
    )
    keys.add_argument("api", choices=["kosmos", "tenduke"], help="which API the key pair is for")
    keys.add_argument("--bits", type=int, default=2048, help="tenduke: RSA key size (default: %(default)s)")
    keys.add_argument(
        "--curve",
        choices=["secp256k1", "prime256v1"],
        default="secp256k1",
        help="kosmos: the curve, as the service's EC_CURVE_NAME says (default: %(default)s; prime256v1 is P-256)",
    )
    keys.add_argument("--json", action="store_true", help="print JSON")
    keys.set_defaults(run=_keys)

    settings = commands.add_parser(
        "settings",
        help="list the mock's settings",
        description="Print every setting of the mock (each also read from EVENTDOUBLE_<NAME>) with its default "
        "and what it does, as a Markdown table.",
    )
    settings.set_defaults(run=_settings)

    add_client_commands(commands)
    add_conform_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``eventdouble`` with ``argv`` (default: the process arguments); return the exit status.

    Ctrl+C ends with status 130 and one line; output into a closed pipe (``| head -1``) ends quietly.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("eventdouble: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away: point stdout at /dev/null so the interpreter's final flush stays quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
