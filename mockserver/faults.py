"""Fault rules: make chosen vendor-API requests slow, refused or dropped, to test a client's resilience.

A rule is kept in the database, so every worker applies it, and a restart keeps it. It matches a
request by a regular expression searched in the path (``^`` and ``$`` anchor it), and optionally
its method and API; what it does is a delay (``delayMs``, plus up to ``jitterMs``), an error
``status`` in the API's own format (the request is not processed, so nothing is stored), or
``action: "reset"`` (the connection is closed without an answer). ``rate`` fires it on that
fraction of its matching requests; with a ``seed`` the choice (and the jitter) is a function of
the seed and the request's rank among the rule's matches, counted across all workers, so the same
requests give the same sequence every run. ``times`` fires it at most that many times (a burst).

The admin API, the pages and the specs are never faulted: a rule cannot lock out its own removal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import socket
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mockserver.db import Database, compact_json
from mockserver.errors import ApiError

__all__ = [
    "FAULTED_APIS",
    "Fault",
    "FaultRuleInvalid",
    "FaultStore",
    "burst",
    "drop_connection",
    "slow_page",
]

FAULTED_APIS = ("kosmos", "tenduke")
SCHEMA = """
CREATE TABLE IF NOT EXISTS fault_rules (id TEXT PRIMARY KEY, position INTEGER NOT NULL, rule TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fault_counts (
    id TEXT PRIMARY KEY, matched INTEGER NOT NULL DEFAULT 0, fired INTEGER NOT NULL DEFAULT 0);
"""


class FaultRuleInvalid(ValueError):
    """A rule the spec's schema lets through but that cannot work (a bad regular expression, no effect)."""


def slow_page(delay_ms: int = 2000, path: str = r"^/get/") -> dict[str, Any]:
    """A rule that answers every feed page (10Duke ``/get``) ``delay_ms`` late."""
    return {"path": path, "method": "GET", "delayMs": delay_ms}


def burst(count: int = 3, status: int = 503, path: str = r"^/get/") -> dict[str, Any]:
    """A rule that refuses the next ``count`` matching requests with ``status``, then lets all through."""
    return {"path": path, "status": status, "times": count}


def _unit(seed: int, rank: int, purpose: str) -> float:
    """A number in [0, 1) that depends only on the rule's seed, the request's rank and the purpose."""
    digest = hashlib.sha256(f"{seed}:{rank}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Rule:
    """A stored rule, its path expression compiled."""

    id: str
    fields: dict[str, Any]
    path: re.Pattern[str]

    def matches(self, method: str, path: str, api: str) -> bool:
        """Whether the rule applies to this request (before its ``rate`` and ``times``)."""
        fields = self.fields
        if fields.get("api") not in (None, api):
            return False
        if fields.get("method") not in (None, method):
            return False
        return self.path.search(path) is not None


@dataclass(frozen=True)
class Fault:
    """What a rule that fired does to one request."""

    rule_id: str
    delay_seconds: float
    status: int | None
    reset: bool
    message: str
    retry_after: int | None

    def refusal(self) -> ApiError:
        """The error answered for a ``status`` rule."""
        error = ApiError(self.message, self.status)
        if self.retry_after is not None:
            error.retry_after = float(self.retry_after)
        return error


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    """The rule as stored: method in upper case; refused if its path is no expression or it does nothing."""
    rule = dict(fields)
    try:
        re.compile(rule["path"])
    except re.error as exc:
        raise FaultRuleInvalid(f"path: not a regular expression ({exc})") from exc
    if "method" in rule:
        rule["method"] = rule["method"].upper()
    if "status" in rule and "action" in rule:
        raise FaultRuleInvalid("status/action: a rule either answers an error or drops the connection, not both")
    if not ({"delayMs", "status", "action"} & rule.keys()):
        raise FaultRuleInvalid("delayMs/status/action: the rule does nothing; give at least one of them")
    return rule


class FaultStore:
    """The fault rules of one mock, in the order they were added; the first that fires applies."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.upgrade("faults", [SCHEMA])
        db.watch("fault_rules")

    def add(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a rule (validated against admin.yaml's ``FaultRuleInput`` by the caller); its view."""
        rule = _checked(fields)
        rule_id = str(uuid.uuid4())
        with self.db.transaction() as tx:
            position = tx.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM fault_rules").fetchone()[0]
            tx.execute("INSERT INTO fault_rules VALUES (?, ?, ?)", (rule_id, position, compact_json(rule)))
            tx.execute(
                "INSERT INTO fault_counts VALUES (?, 0, 0) ON CONFLICT (id) DO UPDATE SET matched = 0, fired = 0",
                (rule_id,),
            )
        return {"id": rule_id, **rule, "matched": 0, "fired": 0}

    def ensure(self, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Add a rule unless one with the same fields exists (seed files, ``--fault``); None if it did."""
        rule = _checked(fields)
        for existing in self.rules():
            if {k: v for k, v in existing.items() if k not in ("id", "matched", "fired")} == rule:
                return None
        return self.add(rule)

    def rules(self) -> list[dict[str, Any]]:
        """Every rule, oldest first, with how many requests it matched and how many it fired on."""
        rows = self.db.query(
            "SELECT r.id, r.rule, COALESCE(c.matched, 0) AS matched, COALESCE(c.fired, 0) AS fired "
            "FROM fault_rules r LEFT JOIN fault_counts c ON c.id = r.id ORDER BY r.position"
        )
        return [{"id": r["id"], **json.loads(r["rule"]), "matched": r["matched"], "fired": r["fired"]} for r in rows]

    def remove(self, rule_id: str) -> bool:
        """Remove a rule; False if there was none."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM fault_counts WHERE id = ?", (rule_id,))
            return tx.execute("DELETE FROM fault_rules WHERE id = ?", (rule_id,)).rowcount > 0

    def clear(self) -> None:
        """Remove every rule."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM fault_rules")
            tx.execute("DELETE FROM fault_counts")

    def _active(self) -> tuple[Rule, ...]:
        def load() -> tuple[Rule, ...]:
            rows = self.db.query("SELECT id, rule FROM fault_rules ORDER BY position")
            rules = []
            for row in rows:
                fields = json.loads(row["rule"])
                rules.append(Rule(row["id"], fields, re.compile(fields["path"])))
            return tuple(rules)

        return self.db.cached("fault_rules", "active", load)

    def fault_for(self, method: str, path: str, api: str) -> Fault | None:
        """The fault of the first rule that fires on this request; None if none does (or there are none)."""
        for rule in self._active():
            if rule.matches(method, path, api) and (fault := self._fire(rule)) is not None:
                return fault
        return None

    def _fire(self, rule: Rule) -> Fault | None:
        """Count the match (across workers) and decide whether the rule fires on it."""
        fields = rule.fields
        rate = float(fields.get("rate", 1))
        seed = fields.get("seed")
        with self.db.transaction() as tx:
            row = tx.execute(
                "UPDATE fault_counts SET matched = matched + 1 WHERE id = ? RETURNING matched, fired", (rule.id,)
            ).fetchone()
            if row is None:  # removed since the rules were read
                return None
            rank, fired = int(row[0]), int(row[1])
            chance = _unit(seed, rank, "rate") if seed is not None else random.random()
            if chance >= rate or ("times" in fields and fired >= int(fields["times"])):
                return None
            tx.execute("UPDATE fault_counts SET fired = fired + 1 WHERE id = ?", (rule.id,))
        jitter_ms = int(fields.get("jitterMs", 0))
        jitter = _unit(seed, rank, "jitter") if seed is not None else random.random()
        status = fields.get("status")
        what = f"status {status}" if status else ("connection reset" if "action" in fields else "delay")
        return Fault(
            rule_id=rule.id,
            delay_seconds=(int(fields.get("delayMs", 0)) + jitter * jitter_ms) / 1000,
            status=status,
            reset=fields.get("action") == "reset",
            message=fields.get("message") or f"injected fault ({what}) by fault rule {rule.id}",
            retry_after=fields.get("retryAfter"),
        )


def drop_connection(environ: Mapping[str, Any]) -> bool:
    """Close the request's connection without an answer (a TCP reset); False if the server gives no socket.

    Both servers find the socket shut when they write the answer, and drop it quietly.
    """
    transport = environ.get("eventdouble.transport")  # the workers' event loop (mockserver.loop_server)
    sock = environ.get("werkzeug.socket") or (transport.get_extra_info("socket") if transport else None)
    if sock is None:
        return False
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if transport is None:
            sock.shutdown(socket.SHUT_RDWR)
    if transport is not None:
        transport.abort()
    return True
