"""The app factory: configuration, stores, blueprints, and the one place errors become JSON."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Request, Response, abort, current_app, g, request
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
from mockserver.kosmos.errors import is_reports_path
from mockserver.limits import bound_streamed_body, check_headers
from mockserver.settings import load_settings
from mockserver.spec import SPEC_DIR, load_spec
from mockserver.tenduke import routes as tenduke_routes
from mockserver.vendor import Pipeline, VendorRoutes, json_answer, send
from mockserver.waits import pause

__all__ = ["api_of", "create_app"]

log = logging.getLogger("eventdouble")
SPECS = ("kosmos-events", "tenduke-events", "admin")


def _render(
    request: Request,
    app: Flask,
    record: Any,
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
) -> Response:
    """The error body in the format of the API the request was for; ``record`` keeps the first reason."""
    record.refusal = getattr(record, "refusal", None) or message
    return json_answer(app, error_body(request.path, status, message, code, param), status)


def _refusal(request: Request, app: Flask, record: Any, exc: Exception) -> Response:
    """The answer to an exception raised while answering ``request``: every error becomes JSON here.

    ``record`` (Flask's ``g``, or the vendor pipeline's exchange) keeps why the request was refused.
    """
    if isinstance(exc, ApiError):
        return _api_error_answer(request, app, record, exc)
    if isinstance(exc, HTTPException):
        return _http_error_answer(request, app, record, exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _render(request, app, record, 500, "internal error in the mock; see its log")


def _api_error_answer(request: Request, app: Flask, record: Any, exc: ApiError) -> Response:
    record.refusal = getattr(exc, "why", None) or exc.message
    if (own := exc.body()) is not None:
        return json_answer(app, own, exc.status)
    code = exc.code if type(exc).code != ApiError.code else None
    message, param = exc.message, exc.param
    if exc.reports_message and is_reports_path(request.path):
        message = exc.reports_message  # the reports service's own words
    response = _render(request, app, record, exc.status, message, code, param)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return response


def _http_error_answer(request: Request, app: Flask, record: Any, exc: HTTPException) -> Response:
    status = exc.code or 500
    messages = {
        404: f"no route for {request.method} {request.path}",
        405: f"{request.method} is not allowed on {request.path}",
        413: f"request body is larger than the limit of {app.config['MAX_CONTENT_LENGTH']} bytes",
    }
    codes = {413: PayloadTooLarge.code}
    message = messages.get(status, exc.description or HTTPStatus(status).phrase)
    response = _render(request, app, record, status, message, codes.get(status))
    for name, value in exc.get_headers():  # e.g. Allow on a 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _handle_error(exc: Exception) -> Response:
    return _refusal(request, current_app, g, exc)


def _checks(request: Request, app: Flask, record: Any) -> Response | None:
    """The checks every request passes first, in order; ``record`` keeps what they found."""
    check_headers(request, app.config)
    bound_streamed_body(request, app.config)
    guard_admin(request, app.config)
    return answer_preflight(request, app.config) or _apply_fault(request, app, record)


def _before_request() -> Response | None:
    g.db_request = db.start_request()
    return _checks(request._get_current_object(), current_app._get_current_object(), g)  # type: ignore[attr-defined]


def _apply_fault(request: Request, app: Flask, record: Any) -> Response | None:
    """What the first fault rule that fires does to this request (vendor APIs only): delay, refuse, drop."""
    api = api_of(request.path)
    if api not in FAULTED_APIS:
        return None
    fault = backend_module.backend_of(app).faults.fault_for(request.method, request.path, api)
    if fault is None:
        return None
    record.fault_id = fault.rule_id
    if fault.delay_seconds:
        pause(fault.delay_seconds)  # the other connections go on meanwhile
    if fault.reset:
        if not drop_connection(request.environ):
            raise ApiError(f"{fault.message}; this server has no connection to drop, so it answers instead", 503)
        record.connection_dropped, record.refusal = True, fault.message
        return Response(status=503, headers={"Connection": "close"})  # nobody reads it
    if fault.status is not None:
        raise fault.refusal()
    return None


def _after_request(response: Response) -> Response:
    _finish(request._get_current_object(), current_app._get_current_object(), g, response)  # type: ignore[attr-defined]
    return response


def _finish(request: Request, app: Flask, record: Any, response: Response) -> None:
    """Done to every answer: CORS headers, then its journal entry (not for the docs and the inspector)."""
    cors_headers(request, app.config, response)
    if (request.endpoint or "").startswith("pages."):
        return
    backend = backend_module.backend_of(app)
    seen = getattr(record, "seen", None) or {}
    backend.journal.record(
        JournalEntry(
            time=backend.clock(),
            method=request.method,
            path=request.path,
            status=0 if getattr(record, "connection_dropped", False) else response.status_code,
            api=api_of(request.path),
            reason=getattr(record, "refusal", None) if response.status_code >= 400 else None,
            request_id=seen.get("request_id"),
            license_key_id=seen.get("license_key_id"),
            fault_id=getattr(record, "fault_id", None),
        )
    )


def _teardown_request(exc: BaseException | None) -> None:
    if (token := g.pop("db_request", None)) is not None:
        db.end_request(token)


def _serve_spec(name: str) -> Response:
    if name.removesuffix(".yaml") not in SPECS or not name.endswith(".yaml"):
        abort(404)
    return Response((SPEC_DIR / name).read_bytes(), mimetype="application/yaml")


class MockApp(Flask):
    """Flask, with the vendor operations answered by their own pipeline (mockserver/vendor.py) first."""

    vendor: Pipeline

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Answer a vendor operation through its pipeline, anything else through Flask."""
        response = self.vendor.answer(self, environ)
        if response is None:
            return super().wsgi_app(environ, start_response)
        return send(response, environ, start_response)


def _vendor_pipeline(app: Flask) -> Pipeline:
    """The vendor operations, routed by their specs; Flask knows their routes too, for 405 and OPTIONS."""
    routes = VendorRoutes()
    for name, spec_name, handlers in (
        ("kosmos", "kosmos-events", kosmos_routes.HANDLERS),
        ("tenduke", "tenduke-events", tenduke_routes.HANDLERS),
    ):
        spec = load_spec(spec_name)
        routes.add(spec, handlers)
        for op_id, op in spec.operations.items():
            app.add_url_rule(op.flask_rule, f"{name}.{op_id}", None, methods=[op.method])
    return Pipeline(routes, check=_checks, refuse=_refusal, finish=_finish)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a mock app: defaults, then ``EVENTDOUBLE_*`` environment variables, then ``config``.

    Raises :class:`~mockserver.settings.SettingsInvalid` if a setting cannot be used; ``config`` may
    also hold Flask's own keys (``TESTING``).
    """
    app = MockApp("mockserver")
    given = dict(config or {})
    flask_keys = {key: given.pop(key) for key in list(given) if key in app.config}  # TESTING and the like
    app.config.from_mapping(load_settings(given).as_mapping())
    app.config.from_mapping(flask_keys)
    backend_module.init_app(app)
    app.before_request(_before_request)

    app.vendor = _vendor_pipeline(app)
    if app.config["ADMIN_ENABLED"]:
        app.register_blueprint(admin_routes.create_blueprint())
    app.add_url_rule("/openapi/<name>", "spec", _serve_spec)
    app.register_blueprint(pages.create_blueprint(admin=bool(app.config["ADMIN_ENABLED"])))

    app.register_error_handler(Exception, _handle_error)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)
    return app
