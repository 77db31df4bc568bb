"""The app factory: configuration, stores, blueprints, and the one place errors become JSON."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Request, Response, abort, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from mockserver import backend as backend_module
from mockserver import db, pages
from mockserver.admin import routes as admin_routes
from mockserver.error_format import api_of, error_body
from mockserver.errors import ApiError, PayloadTooLarge
from mockserver.faults import FAULTED_APIS, drop_connection
from mockserver.guard import answer_preflight, cors_headers, guard_admin
from mockserver.journal import JournalEntry
from mockserver.kosmos import routes as kosmos_routes
from mockserver.limits import bound_streamed_body, check_headers
from mockserver.settings import load_settings
from mockserver.spec import SPEC_DIR
from mockserver.tenduke import routes as tenduke_routes
from mockserver.waits import pause

__all__ = ["api_of", "create_app"]

log = logging.getLogger("eventdouble")
SPECS = ("kosmos-events", "tenduke-events", "admin")


def _render(status: int, message: str, code: str | None = None) -> Response:
    """The error body in the format of the API the request was for."""
    g.refusal = g.get("refusal") or message
    response = jsonify(error_body(request.path, status, message, code))
    response.status_code = status
    return response


def _handle_api_error(exc: ApiError) -> Response:
    g.refusal = getattr(exc, "why", None) or exc.message
    if (own := exc.body()) is not None:
        response = jsonify(own)
        response.status_code = exc.status
        return response
    response = _render(exc.status, exc.message, exc.code if type(exc).code != ApiError.code else None)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return response


def _handle_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    messages = {
        404: f"no route for {request.method} {request.path}",
        405: f"{request.method} is not allowed on {request.path}",
        413: f"request body is larger than the limit of {current_app.config['MAX_CONTENT_LENGTH']} bytes",
    }
    codes = {413: PayloadTooLarge.code}
    response = _render(status, messages.get(status, exc.description or HTTPStatus(status).phrase), codes.get(status))
    for name, value in exc.get_headers():  # e.g. Allow on a 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _render(500, "internal error in the mock; see its log")


def _before_request() -> Response | None:
    """The checks every request passes first, in order; the request and settings are looked up once."""
    g.db_request = db.start_request()
    req, app = request._get_current_object(), current_app._get_current_object()  # type: ignore[attr-defined]
    check_headers(req, app.config)
    bound_streamed_body(req, app.config)
    guard_admin(req, app.config)
    return answer_preflight(req, app.config) or _apply_fault(req, app)


def _apply_fault(request: Request, app: Flask) -> Response | None:
    """What the first fault rule that fires does to this request (vendor APIs only): delay, refuse, drop."""
    api = api_of(request.path)
    if api not in FAULTED_APIS:
        return None
    fault = backend_module.backend_of(app).faults.fault_for(request.method, request.path, api)
    if fault is None:
        return None
    g.fault_id = fault.rule_id
    if fault.delay_seconds:
        pause(fault.delay_seconds)  # the other connections go on meanwhile
    if fault.reset:
        if not drop_connection(request.environ):
            raise ApiError(f"{fault.message}; this server has no connection to drop, so it answers instead", 503)
        g.connection_dropped, g.refusal = True, fault.message
        return Response(status=503, headers={"Connection": "close"})  # nobody reads it
    if fault.status is not None:
        raise fault.refusal()
    return None


def _after_request(response: Response) -> Response:
    """CORS headers, then the journal entry of every answer."""
    req, app = request._get_current_object(), current_app._get_current_object()  # type: ignore[attr-defined]
    cors_headers(req, app.config, response)
    _journal(req, app, response)
    return response


def _teardown_request(exc: BaseException | None) -> None:
    if (token := g.pop("db_request", None)) is not None:
        db.end_request(token)


def _journal(request: Request, app: Flask, response: Response) -> None:
    if (request.endpoint or "").startswith("pages."):  # the docs and the inspector are not traffic to inspect
        return
    backend = backend_module.backend_of(app)
    backend.journal.record(
        JournalEntry(
            time=backend.clock(),
            method=request.method,
            path=request.path,
            status=0 if g.get("connection_dropped") else response.status_code,
            api=api_of(request.path),
            reason=g.get("refusal") if response.status_code >= 400 else None,
            request_id=g.get("kosmos_seen", {}).get("request_id"),
            license_key_id=g.get("kosmos_seen", {}).get("license_key_id"),
            fault_id=g.get("fault_id"),
        )
    )


def _serve_spec(name: str) -> Response:
    if name.removesuffix(".yaml") not in SPECS or not name.endswith(".yaml"):
        abort(404)
    return Response((SPEC_DIR / name).read_bytes(), mimetype="application/yaml")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a mock app: defaults, then ``EVENTDOUBLE_*`` environment variables, then ``config``.

    Raises :class:`~mockserver.settings.SettingsInvalid` if a setting cannot be used; ``config`` may
    also hold Flask's own keys (``TESTING``).
    """
    app = Flask("mockserver")
    given = dict(config or {})
    flask_keys = {key: given.pop(key) for key in list(given) if key in app.config}  # TESTING and the like
    app.config.from_mapping(load_settings(given).as_mapping())
    app.config.from_mapping(flask_keys)
    backend_module.init_app(app)
    app.before_request(_before_request)

    app.register_blueprint(kosmos_routes.create_blueprint())
    app.register_blueprint(tenduke_routes.create_blueprint())
    if app.config["ADMIN_ENABLED"]:
        app.register_blueprint(admin_routes.create_blueprint())
    app.add_url_rule("/openapi/<name>", "spec", _serve_spec)
    app.register_blueprint(pages.create_blueprint(admin=bool(app.config["ADMIN_ENABLED"])))

    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(Exception, _handle_unexpected)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)
    return app
