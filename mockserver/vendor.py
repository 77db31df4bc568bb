"""The vendor APIs' request pipeline: each 1Kosmos and 10Duke operation answered as plain function calls.

A request whose method and path name an operation of a vendor spec (``HEAD`` as ``GET``) is
answered here, without Flask's per-request machinery (its contexts, URL adapter, session and
hooks), which cost the signed PUT more than its crypto does. The steps and their order are the
app's for every request (mockserver/app.py): the header checks, the streamed body bound, the
fault rules, the spec's validation, the handler, then CORS headers and the journal entry; a
refusal is rendered by the same functions. Every other request (the admin API, the pages, a
404, a 405, ``OPTIONS``) goes through Flask, which knows the vendor routes too, for its 405s.

A handler gets the :class:`Exchange` and the path parameters, and returns a response.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Request, Response

from mockserver import db
from mockserver.backend import Backend, backend_of
from mockserver.spec import OpenApiSpec, Operation, ValidatedRequest

__all__ = ["Exchange", "Handler", "Pipeline", "VendorRoutes", "empty_answer", "json_answer", "send"]


@dataclass(eq=False, slots=True)
class Exchange:
    """One vendor request being answered: the request, the app, and what its checks found."""

    request: Request
    app: Flask
    backend: Backend
    spec: OpenApiSpec
    operation: Operation
    checked: ValidatedRequest = field(default_factory=ValidatedRequest)
    """The request's values, as checked against the spec."""
    seen: dict[str, str] = field(default_factory=dict)
    """1Kosmos: the decrypted request id and the license's key id, once read (for the journal)."""
    refusal: str | None = None
    """Why the request was refused (the first reason given), for the journal."""
    fault_id: str | None = None
    connection_dropped: bool = False

    @property
    def config(self) -> Mapping[str, Any]:
        """The app's settings."""
        return self.app.config

    def json(self, body: Any, status: int = 200) -> Response:
        """``body`` as the JSON answer."""
        return json_answer(self.app, body, status)


def empty_answer(status: int = 200) -> Response:
    """An answer without a body, typed ``text/plain`` as Flask's default (said here, werkzeug need not look)."""
    return Response(b"", status=status, mimetype="text/plain")


_WERKZEUG_FIXES = frozenset({"location", "content-location"})
"""Headers werkzeug rewrites when it sends an answer."""


def send(response: Response, environ: Mapping[str, Any], start_response: Any) -> Iterable[bytes]:
    """Send ``response`` as werkzeug's ``Response.__call__`` would, without its copies for a plain answer.

    The pipeline's answers are bytes held in a list with their ``Content-Length``; werkzeug copies
    their headers and wraps their body for what they never have (redirects, ``HEAD``, 1xx, 204
    and 304, streams, close callbacks). Any answer that may have one of those is sent by werkzeug.
    """
    body, status = response.response, response.status_code
    plain = (
        type(body) is list
        and all(type(chunk) is bytes for chunk in body)
        and not response.direct_passthrough
        and status >= 200
        and status not in (204, 304)
        and environ["REQUEST_METHOD"] != "HEAD"
    )
    closing = getattr(response, "_on_close", True)  # werkzeug's close callbacks (a private name: if gone, assume some)
    if not plain or closing:
        return response(environ, start_response)
    headers = response.headers.to_wsgi_list()
    names = {name.lower() for name, _ in headers}
    if "content-length" not in names or names & _WERKZEUG_FIXES:
        return response(environ, start_response)
    start_response(response.status, headers)
    return body


def json_answer(app: Flask, body: Any, status: int) -> Response:
    """``body`` as a JSON answer with ``status``, written by the app's JSON as Flask's ``jsonify`` does."""
    response = app.json.response(body)
    response.status_code = status
    return response


Handler = Callable[..., Response]
"""A vendor operation's handler: ``handler(exchange, **path_parameters)``."""


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    spec: OpenApiSpec
    operation: Operation
    handler: Handler


def _pattern(path: str) -> re.Pattern[str]:
    """The regular expression of a spec path: ``{name}`` is one non-empty segment, as Flask routes it."""
    parts = re.split(r"{([^}]+)}", path)
    return re.compile(
        "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)) + r"\Z"
    )


class VendorRoutes:
    """The operations of the vendor specs, by method, each with its handler."""

    def __init__(self) -> None:
        self._by_method: dict[str, list[_Route]] = {}

    def add(self, spec: OpenApiSpec, handlers: Mapping[str, Handler]) -> None:
        """Route every operation of ``spec`` to its handler; refuse to start if the two sets differ."""
        spec.check_handlers(handlers)
        for op_id, op in spec.operations.items():
            routes = self._by_method.setdefault(op.method, [])
            routes.append(_Route(_pattern(op.path), spec, op, handlers[op_id]))
            routes.sort(key=lambda route: route.pattern.groups)  # fixed paths before templates, as Flask ranks them

    def match(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        """The route of ``method`` and ``path`` and the path parameters, or None."""
        for route in self._by_method.get("GET" if method == "HEAD" else method, ()):
            if found := route.pattern.match(path):
                return route, found.groupdict()
        return None


Check = Callable[[Request, Flask, Any], Response | None]
"""The checks every request passes before its handler (mockserver/app.py); a response answers it at once.
The third argument records what they found (the exchange here, Flask's ``g`` there)."""


@dataclass(frozen=True)
class Pipeline:
    """The vendor operations and what the app does around their handlers, from the app's own functions."""

    routes: VendorRoutes
    check: Check
    refuse: Callable[[Request, Flask, Any, Exception], Response]
    """The answer to an exception, in the API's format (records why, as the check does)."""
    finish: Callable[[Request, Flask, Any, Response], None]
    """Done to every answer: CORS headers, the journal entry."""

    def answer(self, app: Flask, environ: dict[str, Any]) -> Response | None:
        """The answer to a vendor operation's request, or None if ``environ`` is not one."""
        request = app.request_class(environ)
        matched = self.routes.match(request.method, request.path)
        if matched is None:
            return None
        route, path_params = matched
        request.max_content_length = app.config["MAX_CONTENT_LENGTH"]
        exchange = Exchange(request, app, backend_of(app), route.spec, route.operation)
        token = db.start_request()
        try:
            response = self._respond(exchange, route, path_params)
            self.finish(request, app, exchange, response)
            return response
        finally:
            db.end_request(token)

    def _respond(self, exchange: Exchange, route: _Route, path_params: dict[str, str]) -> Response:
        request, app = exchange.request, exchange.app
        try:
            if (early := self.check(request, app, exchange)) is not None:
                return early
            exchange.checked = route.spec.validate(route.operation, request, path_params)
            return route.handler(exchange, **path_params)
        except Exception as exc:  # noqa: BLE001 - an ApiError is a refusal; anything else a 500 the refusal logs
            return self.refuse(request, app, exchange, exc)
