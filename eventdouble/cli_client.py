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


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
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
        return TenDukeClient(args.base, _key(args.key), args.algorithm)
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
        out: TextIO = sys.stdout
        if args.output:
            try:
                out = stack.enter_context(open(args.output, "w", encoding="utf-8"))
            except OSError as exc:
                raise UsageError(f"cannot write {args.output}: {exc.strerror}") from exc
        for event in client.read(args.feed, after=args.after, page_size=args.page_size):
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
            count += 1
    print(f"read {count} event(s) from {args.feed}", file=sys.stderr)
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
            print(f"eventdouble: the server refused the request: {exc}", file=sys.stderr)
            return 1
        except ClientError as exc:  # ServiceUnreachable and friends
            print(f"eventdouble: {exc}. Is --base right and the server running?", file=sys.stderr)
            return 2

    return wrapper


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
    feed.set_defaults(run=_guarded(_read_tenduke))
