"""``eventdouble send`` and ``eventdouble read``: the clients from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # imported when a command runs, not for --help
    from eventclient import TenDukeClient

__all__ = ["add_client_commands"]


class UsageError(Exception):
    """A problem with what the user typed or pointed at: message and exit status 2."""


MAX_QUERY_PAGES = 1_000_001
"""pIndex goes up to 1,000,000 in the spec."""


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def backoff_seconds(text: str) -> float:
    """An argparse type: a number of seconds from 0 to 60."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 60:  # NaN too
        raise argparse.ArgumentTypeError(f"{text!r}: must be from 0 to 60 seconds")
    return value


def _read_text(value: str, what: str) -> str:
    """``value`` itself, or the contents of the file ``@path``."""
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {what} file {value[1:]}: {exc.strerror}") from exc


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from exc


def _key(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read key file {path}: {exc.strerror}") from exc


def _tenduke_client(args: argparse.Namespace) -> TenDukeClient:
    from eventclient import TenDukeClient
    from eventclient.exceptions import CryptoError

    try:
        return TenDukeClient(args.base, _key(args.key), args.algorithm, retries=args.retries, backoff=args.backoff)
    except CryptoError as exc:
        raise UsageError(f"{args.key} holds no usable RSA private key: {exc}") from exc


def _send_kosmos(args: argparse.Namespace) -> int:
    data = _json(_read_text(args.data, "data"), "--data")
    if not isinstance(data, dict):
        raise UsageError("--data must be a JSON object (the event, with at least a 'type')")
    from eventclient import KosmosClient

    with KosmosClient(args.base, args.license, app_id="eventdouble-cli") as client:
        client.put_event(args.tenant, args.community, args.event, data, encrypt=not args.plain)
    print(f"stored {args.event} for tenant {args.tenant}, community {args.community}")
    return 0


def _batches(lines: Iterator[str], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        event = _json(line, f"line {number}")
        if not isinstance(event, dict):
            raise UsageError(f"line {number} is not a JSON object")
        batch.append(event)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _send_tenduke(args: argparse.Namespace) -> int:
    client = _tenduke_client(args)
    sent = 0
    with client, ExitStack() as stack:
        if args.events.startswith("@"):
            path = Path(args.events[1:])
            try:
                handle: TextIO = stack.enter_context(path.open(encoding="utf-8"))
            except OSError as exc:
                raise UsageError(f"cannot read events file {path}: {exc.strerror}") from exc
            first = handle.read(1)
            handle.seek(0)
            if first == "[":  # a JSON array
                value = _json(handle.read(), str(path))
                batches: Iterator[list[dict[str, Any]]] = iter(
                    [value[i : i + args.batch_size] for i in range(0, len(value), args.batch_size)]
                )
                total = len(value)
            else:  # JSON lines, streamed
                total = sum(1 for line in handle if line.strip())
                handle.seek(0)
                batches = _batches(handle, args.batch_size)
        else:
            value = _json(args.events, "--events")
            events = value if isinstance(value, list) else [value]
            batches, total = iter([events]), len(events)
        from tqdm import tqdm

        bar = stack.enter_context(tqdm(total=total, unit="event", file=sys.stderr, disable=None if total > 1 else True))
        for batch in batches:
            client.put(batch)
            sent += len(batch)
            bar.update(len(batch))
    print(f"sent {sent} event(s)")
    return 0


def _read_tenduke(args: argparse.Namespace) -> int:
    client = _tenduke_client(args)
    count = 0
    with client, ExitStack() as stack:
        out = _output(stack, args.output)
        for event in client.read(args.feed, after=args.after, page_size=args.page_size):
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
            count += 1
    print(f"read {count} event(s) from {args.feed}", file=sys.stderr)
    return 0


def _output(stack: ExitStack, path: str | None) -> TextIO:
    if not path:
        return sys.stdout
    try:
        return stack.enter_context(open(path, "w", encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


def _read_kosmos(args: argparse.Namespace) -> int:
    """Every event of a tenant and community through the query endpoint, page by page, as JSON lines."""
    from tqdm import tqdm

    from eventclient import KosmosClient

    count = 0
    with KosmosClient(args.base, args.license, app_id="eventdouble-cli") as client, ExitStack() as stack:
        out = _output(stack, args.output)
        bar = stack.enter_context(tqdm(unit="event", file=sys.stderr, disable=None))
        for index in range(MAX_QUERY_PAGES):
            page = client.query_events(
                args.tenant, args.community, page_size=args.page_size, page_index=index,
                start=args.start, end=args.end, event_name=args.event,
            )  # fmt: skip
            events = page.get("data") or []
            bar.total = int(page.get("page", {}).get("total", 0) or 0)
            for event in events:
                out.write(json.dumps(event, separators=(",", ":")) + "\n")
            count += len(events)
            bar.update(len(events))
            if len(events) < args.page_size:
                break
    print(f"read {count} event(s) of tenant {args.tenant}, community {args.community}", file=sys.stderr)
    return 0


def _register_tenduke(args: argparse.Namespace) -> int:
    """Register a client's public key (from a public or a private PEM) through the mock's admin API."""
    import httpx

    from eventclient import jws
    from eventclient.exceptions import CryptoError

    pem = _key(args.key)
    try:
        public_pem = jws.public_pem_of(pem)
    except CryptoError as exc:
        raise UsageError(f"{args.key}: {exc}") from exc
    headers = {"Authorization": f"Bearer {args.admin_token}"} if args.admin_token else {}
    url = f"{args.base.rstrip('/')}/__admin/tenduke/clients"
    try:
        body = {"publicKeyPem": public_pem, **({"name": args.name} if args.name else {})}
        response = httpx.post(url, json=body, headers=headers, timeout=30)
    except httpx.TransportError as exc:
        raise UsageError(f"cannot reach {url}: {exc}. Is --base right and the server running?") from exc
    if response.status_code == 409:
        print("this public key is already registered", file=sys.stderr)
        return 0
    if response.status_code != 201:
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        message = body.get("message") if isinstance(body, dict) else None
        print(
            f"eventdouble: the mock refused the key: {response.status_code} {message or response.text[:200]}",
            file=sys.stderr,
        )
        return 2 if response.status_code == 404 else 1
    record = response.json()
    print(f"registered client {record['clientId']} (RFC 7638 thumbprint {record['thumbprint']}, {record['bits']} bits)")
    return 0


def _guarded(run: Any) -> Any:
    """Run a client command; turn refusals and unreachable servers into one clear line."""

    def wrapper(args: argparse.Namespace) -> int:
        from eventclient.exceptions import ApiError, ClientError

        try:
            return int(run(args))
        except UsageError as exc:
            print(f"eventdouble: {exc}", file=sys.stderr)
            return 2
        except ApiError as exc:
            if exc.status == 404 and "no route" in exc.message:  # nothing of the API lives at that URL
                print(f"eventdouble: {exc.message}: is --base the server root?", file=sys.stderr)
                return 2
            print(f"eventdouble: the server refused the request: {exc}", file=sys.stderr)
            return 1
        except ClientError as exc:  # ServiceUnreachable and friends
            print(f"eventdouble: {exc}. Is --base right and the server running?", file=sys.stderr)
            return 2

    return wrapper


def _retry_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--retries",
        type=int,
        default=5,
        choices=range(11),
        metavar="N",
        help=f"{what} up to N times, as the official 10Duke reader does (default: %(default)s; 0 to 10)",
    )
    parser.add_argument(
        "--backoff",
        type=backoff_seconds,
        default=1.0,
        metavar="SECONDS",
        help="the first wait before a retry, doubled for each next one: 1, 2, 4, 8, 16 s (default: %(default)s)",
    )


def add_client_commands(commands: Any) -> None:
    """Add ``send`` and ``read`` to the ``eventdouble`` sub-command parser."""
    send = commands.add_parser("send", help="sign and send events to a server", description="Sign and send events.")
    apis = send.add_subparsers(dest="api", metavar="API", required=True)

    kosmos = apis.add_parser("kosmos", help="PUT one event to a 1Kosmos Events API", description=(
        "Encrypt and PUT one event. Example: eventdouble send kosmos --base http://127.0.0.1:8080 "
        "--license KEY --tenant acme --community main --event E_LOGIN_ATTEMPT --data '{\"type\": \"login\"}'"
    ))  # fmt: skip
    kosmos.add_argument("--base", required=True, help="server root or its /events URL")
    kosmos.add_argument("--license", required=True, help="the license key")
    kosmos.add_argument("--tenant", required=True)
    kosmos.add_argument("--community", required=True)
    kosmos.add_argument("--event", required=True, help="event name, e.g. E_LOGIN_ATTEMPT")
    kosmos.add_argument("--data", required=True, help="the event as JSON, or @file")
    kosmos.add_argument("--plain", action="store_true", help="send data unencrypted (the vendor allows it)")
    kosmos.set_defaults(run=_guarded(_send_kosmos))

    tenduke = apis.add_parser("tenduke", help="POST events to a 10Duke Event Data API", description=(
        "Sign events with a client RSA key and POST them to /put. --events takes JSON (an event or an "
        "array) or @file: a JSON array, or JSON lines streamed in batches with a progress bar."
    ))  # fmt: skip
    tenduke.add_argument("--base", required=True, help="server root, e.g. http://127.0.0.1:8080")
    tenduke.add_argument("--key", required=True, help="PEM file with the client's RSA private key")
    tenduke.add_argument("--events", required=True, help="JSON, or @file (.json array or JSON lines)")
    tenduke.add_argument(
        "--batch-size", type=positive_int, default=1000, help="events per /put, at least 1 (default: %(default)s)"
    )
    tenduke.add_argument("--algorithm", default="RS256", choices=["RS256", "RS384", "RS512"])
    _retry_options(tenduke, "a batch refused with 429 or 503 (nothing stored) is sent again")
    tenduke.set_defaults(run=_guarded(_send_tenduke))

    read = commands.add_parser("read", help="read events back", description="Read events back.")
    read_apis = read.add_subparsers(dest="api", metavar="API", required=True)
    feed = read_apis.add_parser("tenduke", help="page through a 10Duke feed", description=(
        "Page through a feed by its newer links and print every event as a JSON line."
    ))  # fmt: skip
    feed.add_argument("feed", metavar="FEED", help="an event source id, or objectType/objectId")
    feed.add_argument("--base", required=True, help="server root, e.g. http://127.0.0.1:8080")
    feed.add_argument("--key", required=True, help="PEM file with the client's RSA private key")
    feed.add_argument("--after", type=int, help="only events received after this time (ns since the epoch)")
    feed.add_argument("--page-size", type=int, default=500, help="events per page (default: %(default)s)")
    feed.add_argument("--output", help="write JSON lines to this file instead of standard output")
    feed.add_argument("--algorithm", default="RS256", choices=["RS256", "RS384", "RS512"])
    _retry_options(feed, "a page answered 429 or 5xx, or not answered, is read again")
    feed.set_defaults(run=_guarded(_read_tenduke))

    query = read_apis.add_parser("kosmos", help="read a tenant's events through the 1Kosmos query", description=(
        "Page through POST /reports/tenant/{tenant}/community/{community}/events and print every event as "
        "a JSON line, with a progress bar on a terminal."
    ))  # fmt: skip
    query.add_argument("--base", required=True, help="server root, e.g. http://127.0.0.1:8080")
    query.add_argument("--license", required=True, help="the license key")
    query.add_argument("--tenant", required=True)
    query.add_argument("--community", required=True)
    query.add_argument("--event", help="only events of this name")
    query.add_argument("--start", help="from this time, YYYY-MM-DD HH:MM:SS.SSS UTC (the server allows 90 days back)")
    query.add_argument("--end", help="up to this time, inclusive")
    query.add_argument("--page-size", type=positive_int, default=100, help="events per page (default: %(default)s)")
    query.add_argument("--output", help="write JSON lines to this file instead of standard output")
    query.set_defaults(run=_guarded(_read_kosmos))

    register = commands.add_parser("register", help="register a 10Duke client key with a mock", description=(
        "Register a 10Duke client's public key with an eventdouble mock (POST /__admin/tenduke/clients). "
        "Against the real service, 10Duke registers your key."
    ))  # fmt: skip
    register_apis = register.add_subparsers(dest="api", metavar="API", required=True)
    client_key = register_apis.add_parser("tenduke", help="register a client public key", description=(
        "Example: eventdouble keys tenduke > client.pem && eventdouble register tenduke --base "
        "http://127.0.0.1:8080 --key client.pem"
    ))  # fmt: skip
    client_key.add_argument("--base", required=True, help="the mock's root, e.g. http://127.0.0.1:8080")
    client_key.add_argument("--key", required=True, help="PEM file with the public key, or the private key")
    client_key.add_argument("--name", help="a name for the client, shown in the admin API and the inspector")
    client_key.add_argument("--admin-token", help="the mock's admin token, if it has one (default: none)")
    client_key.set_defaults(run=_guarded(_register_tenduke))
