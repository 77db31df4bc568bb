"""The mock's own pages: the index at ``/``, API docs at ``/docs`` and the inspector at ``/__admin/ui``.

Swagger UI comes from the ``swagger-ui-bundle`` package and is served by the mock itself, so the
docs work offline; no page loads anything from a CDN. The inspector reads the admin API, so it
is guarded like it (token, Host, Origin).
"""

from __future__ import annotations

from importlib import resources

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path

__all__ = ["create_blueprint"]

UI = resources.files("mockserver") / "ui"
SWAGGER_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)
PAGES = {"admin.css": "text/css", "admin.js": "text/javascript"}


def _ui_file(name: str, mimetype: str) -> Response:
    response = Response((UI / name).read_bytes(), mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    return response


def index() -> Response:
    """Where everything is: HTML for a browser, JSON for anything else."""
    links = {
        "docs": "/docs",
        "inspector": "/__admin/ui" if current_app.config["ADMIN_ENABLED"] else None,
        "kosmos": "/events",
        "kosmosQuery": "/reports",
        "tenduke": "/put, /get/<feed>",
        "specs": ["/openapi/kosmos-events.yaml", "/openapi/tenduke-events.yaml", "/openapi/admin.yaml"],
    }
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) != "text/html":
        return jsonify({"name": "eventdouble", "links": links})
    inspector = '<li><a href="/__admin/ui">Inspector</a>: recent requests and why they were refused</li>'
    body = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>eventdouble</title></head><body>"
        "<h1>eventdouble</h1><p>A mock of the 1Kosmos Events API and the 10Duke Event Data API, with real crypto.</p>"
        "<ul><li><a href='/docs'>API docs</a> (Swagger UI, offline)</li>"
        f"{inspector if links['inspector'] else ''}"
        "<li><a href='/events/healthz'>/events/healthz</a></li>"
        "<li>Specs: <a href='/openapi/kosmos-events.yaml'>1Kosmos</a>, "
        "<a href='/openapi/tenduke-events.yaml'>10Duke</a>, <a href='/openapi/admin.yaml'>admin</a></li>"
        "</ul></body></html>"
    )
    return Response(body, mimetype="text/html")


def docs_page() -> Response:
    return _ui_file("docs.html", "text/html")


def docs_script() -> Response:
    return _ui_file("docs.js", "text/javascript")


def swagger_asset(name: str) -> Response:
    if name not in SWAGGER_ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=3600)


def inspector_page() -> Response:
    return _ui_file("admin.html", "text/html")


def inspector_asset(name: str) -> Response:
    if name not in PAGES:
        abort(404)
    return _ui_file(name, PAGES[name])


def create_blueprint(admin: bool) -> Blueprint:
    """The pages; the inspector only when the admin API is served."""
    blueprint = Blueprint("pages", __name__)
    blueprint.add_url_rule("/", "index", index)
    blueprint.add_url_rule("/docs", "docs", docs_page, strict_slashes=False)
    blueprint.add_url_rule("/docs/docs.js", "docs_script", docs_script)
    blueprint.add_url_rule("/docs/assets/<name>", "swagger_asset", swagger_asset)
    blueprint.add_url_rule("/favicon.ico", "favicon", lambda: swagger_asset("favicon-32x32.png"))
    if admin:
        blueprint.add_url_rule("/__admin/ui", "inspector", inspector_page, strict_slashes=False)
        blueprint.add_url_rule("/__admin/ui/<name>", "inspector_asset", inspector_asset)
    return blueprint
