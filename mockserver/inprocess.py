"""Run the real mock in a background thread on a free loopback port: notebooks, tests, scripts.

with MockServer() as srv:
    license_key = srv.create_license()["licenseKey"]
    ... point a client at srv.url ...
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer

from mockserver.app import create_app
from mockserver.backend import EXTENSION, Backend
from mockserver.faults import FAULTED_APIS
from mockserver.serving import threaded_server
from mockserver.spec import load_spec
from mockserver.stream import Position, follow, head
from mockserver.tls import TlsFiles, ensure_certificates, tls_dir_for

__all__ = ["MockServer"]


class MockServer:
    """The mock app served on ``host:port`` (port 0: a free one) until :meth:`stop`.

    With ``tls``, it serves https with a certificate for the loopback names signed by the mock's own
    CA (kept in ``tls_dir``, default: beside the database, see :func:`mockserver.tls.tls_dir_for`);
    :attr:`ca_file` is the file a client trusts.
    """

    def __init__(
        self,
        db: str = ":memory:",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: Mapping[str, Any] | None = None,
        tls: bool = False,
        tls_dir: str | Path | None = None,
    ) -> None:
        self.app = create_app({"DATABASE": db, **(config or {})})
        self.backend: Backend = self.app.extensions[EXTENSION]
        self._host, self._port = host, port
        self.tls: TlsFiles | None = None
        if tls:
            self.tls = ensure_certificates(Path(tls_dir) if tls_dir else tls_dir_for(db), (host,))
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle --------------------------------------------------------------------------------
    def start(self) -> MockServer:
        """Bind the port and serve in a daemon thread; requests are accepted once this returns."""
        if self._server is not None:
            return self
        context = self.tls.server_context() if self.tls else None
        self._server = threaded_server(self.app, self._host, self._port, tls=context)  # no access lines: the journal
        # polling for shutdown every 0.05 s (not 0.5): stop() returns at once, a script ends at once
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, name="eventdouble-mock", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, free the port and close the database."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self.backend.close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # where ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:53211`` (``https://`` with ``tls``; 10Duke clients use it as is)."""
        if self._server is None:
            raise RuntimeError("the MockServer is not running; use `with MockServer() as srv:` or srv.start()")
        return f"{'https' if self.tls else 'http'}://{self._host}:{self._server.server_port}"

    @property
    def ca_file(self) -> str:
        """The CA certificate a client trusts to reach an https mock (``MockServer(tls=True)``)."""
        if self.tls is None:
            raise RuntimeError("this MockServer serves plain http; start it with MockServer(tls=True)")
        return str(self.tls.ca_file)

    @property
    def kosmos_url(self) -> str:
        """The 1Kosmos Events API base URL (``<url>/events``)."""
        return f"{self.url}/events"

    # state ------------------------------------------------------------------------------------
    def create_license(self, auth_level: str = "system", **fields: Any) -> dict[str, Any]:
        """Create a 1Kosmos license (fields as in the admin API: tenantId, licenseKey, ...)."""
        body = {"authLevel": auth_level, **fields}
        load_spec("admin").check("/components/schemas/LicenseInput", body, "license")
        record = self.backend.kosmos.create_license(body)
        if record is None:
            raise ValueError(f"a license with key {fields.get('licenseKey')!r} exists")
        return record.as_json()

    def register_tenduke_client(
        self, public_key_pem: str, name: str | None = None, allow_unusable: bool = False
    ) -> dict[str, Any]:
        """Register a 10Duke client public key (RSA, >= 2048 bits, unless ``allow_unusable``); returns its record."""
        record = self.backend.tenduke.register_client(public_key_pem, name, allow_unusable)
        if record is None:
            raise ValueError("this public key is already registered")
        return record.as_json()

    def events(self, api: str = "kosmos", limit: int = 100000, **filters: str) -> list[dict[str, Any]]:
        """Stored events, oldest first.

        Filters: kosmos ``tenant_id``, ``community_id``, ``event_name``; tenduke ``source_id``, ``event_type``.
        """
        if api == "kosmos":
            return self.backend.kosmos.events(limit=limit, **filters)
        if api == "tenduke":
            return self.backend.tenduke.events(limit=limit, **filters)
        raise ValueError("api must be 'kosmos' or 'tenduke'")

    # faults -----------------------------------------------------------------------------------
    def add_fault(self, rule: Mapping[str, Any] | None = None, /, **fields: Any) -> dict[str, Any]:
        """Add a fault rule (the fields of ``POST /__admin/faults``, as a dict or keywords); the stored rule.

        ``srv.add_fault(path="^/put$", status=503)``, or a preset: ``srv.add_fault(faults.burst(3))``.
        """
        body = {**(rule or {}), **fields}
        load_spec("admin").check("/components/schemas/FaultRuleInput", body, "fault rule")
        return self.backend.faults.add(body)

    def remove_fault(self, rule_id: str) -> None:
        """Remove a fault rule; KeyError if there is none with this id."""
        if not self.backend.faults.remove(rule_id):
            raise KeyError(f"no fault rule with id {rule_id}")

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules, oldest first, with how often each matched and fired."""
        return self.backend.faults.rules()

    @contextmanager
    def fault(self, rule: Mapping[str, Any] | None = None, /, **fields: Any) -> Iterator[dict[str, Any]]:
        """A fault rule for the duration of a ``with`` block: ``with srv.fault(path="^/get/", delayMs=500):``."""
        added = self.add_fault(rule, **fields)
        try:
            yield added
        finally:
            self.backend.faults.remove(added["id"])

    # waiting for events ------------------------------------------------------------------------
    def wait_for_event(
        self,
        api: str | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
        *,
        new_only: bool = False,
    ) -> dict[str, Any]:
        """The first stored event of ``api`` (either if None) that ``predicate`` accepts, as soon as it is committed.

        Looks at every stored event, oldest first, then at each new one as it is accepted, so it
        finds an event whether the code under test sent it before or after this call; with
        ``new_only``, only events accepted after the call. Raises TimeoutError after ``timeout``
        seconds. ``srv.wait_for_event("tenduke", lambda e: e["eventType"] == "login")``.
        """
        if api not in (None, *FAULTED_APIS):
            raise ValueError("api must be 'kosmos', 'tenduke' or None")
        deadline = time.monotonic() + timeout
        position = head(self.backend) if new_only else Position()
        looked = 0
        for batch in follow(self.backend, position, lambda: time.monotonic() < deadline, poll=0.02):
            for streamed in batch:
                looked += 1
                if api in (None, streamed.api) and (predicate is None or predicate(streamed.event)):
                    return streamed.event
        raise TimeoutError(f"no matching {api or 'kosmos or tenduke'} event within {timeout:g} s ({looked} looked at)")

    def journal(self, limit: int = 100) -> list[dict[str, Any]]:
        """Recent requests with the reason for each refusal."""
        return self.backend.journal.entries(limit)

    def reset(self, everything: bool = False) -> None:
        """Forget events, the journal and fault rules; with ``everything``, also credentials and keys."""
        self.backend.reset(everything)
