"""Build the Feed object of a ``/get`` page: older instruction, events, newer instruction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from mockserver.tenduke.store import FeedKey, TenDukeStore

__all__ = ["MAX_CURSOR", "FeedPage", "feed_path", "read_page"]

MAX_CURSOR = 2**63 - 1  # cursors are SQLite INTEGERs (int64), as the spec's format says


def feed_path(feed: FeedKey) -> str:
    """The feed's path, each segment percent-encoded."""
    return "/get/" + "/".join(quote(part, safe="") for part in feed.parts)


@dataclass(frozen=True)
class FeedPage:
    """A page: the events and the cursors of its two instructions."""

    feed: FeedKey
    uri: str
    events: list[str]
    """Each event's stored JSON text."""
    older_cursor: int
    newer_cursor: int
    has_older: bool
    has_newer: bool

    def instructions(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The older and the newer instruction."""
        path = feed_path(self.feed)
        older = {
            "url": f"{path}?before={self.older_cursor}",
            "instruction": "older",
            "count": -1 if self.has_older else 0,
        }
        newer = {
            "url": f"{path}?after={self.newer_cursor}",
            "instruction": "newer",
            "count": -1 if self.has_newer else 0,
        }
        return older, newer

    def to_json_text(self) -> str:
        """The Feed object as JSON text, the stored events spliced in as they are."""
        older, newer = self.instructions()
        objects = ",".join([json.dumps(older), *self.events, json.dumps(newer)])
        head = json.dumps({"uri": self.uri, "updateUrl": newer["url"], "count": len(self.events)})
        return f'{head[:-1]},"objects":[{objects}]}}'

    def as_json(self) -> dict[str, Any]:
        """The Feed object."""
        value: dict[str, Any] = json.loads(self.to_json_text())
        return value


def read_page(
    store: TenDukeStore,
    feed: FeedKey,
    uri: str,
    *,
    after: int | None,
    before: int | None,
    limit: int,
    newest: bool,
    max_bytes: int = 2**62,
) -> FeedPage:
    """Read one page and work out where the older and newer pages start.

    With events, the cursors are the first and last ``eventReceived``. On an empty page the
    newer cursor stays where the caller asked (so polling the newer link waits for new events),
    and the older cursor is the window's upper end. A page cut at ``max_bytes`` is exact too: its
    instructions start from the events it holds.
    """
    rows = store.page(feed, after=after, before=before, limit=limit, newest=newest, max_bytes=max_bytes)
    if rows:
        older_cursor, newer_cursor = rows[0][0], rows[-1][0]
    else:
        newer_cursor = after if after is not None else (before - 1 if before is not None else 0)
        older_cursor = before if before is not None else min(newer_cursor + 1, MAX_CURSOR)
        newer_cursor = max(newer_cursor, 0)
    return FeedPage(
        feed=feed,
        uri=uri,
        events=[body for _, body in rows],
        older_cursor=older_cursor,
        newer_cursor=newer_cursor,
        has_older=store.has_events(feed, before=older_cursor),
        has_newer=store.has_events(feed, after=newer_cursor),
    )
