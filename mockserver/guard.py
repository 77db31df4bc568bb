"""Who may reach what: the admin API's token, Host and Origin rules, and CORS for the vendor APIs.

The admin API rewrites the mock's credentials, so it is guarded against the network (a token,
required by ``eventdouble serve`` on any non-loopback address), against DNS rebinding (without a
token, only loopback Host names are served) and against cross-site requests (a foreign
``Origin`` is refused, and writes must be JSON, which no HTML form and no simple cross-site
request can send). The vendor APIs answer browsers only when ``CORS_ORIGINS`` names their origin.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Config, Request, Response

from mockserver.error_format import api_of
from mockserver.errors import ApiError, UnsupportedMediaType

__all__ = ["AdminUnauthorized", "RequestForbidden", "answer_preflight", "cors_headers", "guard_admin"]

ADMIN_WRITE_METHODS = ("POST", "PUT", "PATCH")
CORS_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
CORS_EXPOSED = "requestid, retry-after"
CORS_MAX_AGE = "600"


class AdminUnauthorized(ApiError):
    """The admin API needs its token, and the request has none or another one."""

    status = 401
    code = "unauthorized"


class RequestForbidden(ApiError):
    """A Host or Origin the request may not come with: the admin API's rules, or CORS off."""

    status = 403
    code = "forbidden"


def _hostname(host: str) -> str:
    """The name in a ``Host`` header, without its port; IPv6 without brackets; lower case."""
    return (urlsplit(f"//{host}").hostname or "").lower()


def _same_origin(request: Request, origin: str) -> bool:
    return origin.rstrip("/").lower() == f"{request.scheme}://{request.host}".lower()


def guard_admin(request: Request, config: Config) -> None:
    """Refuse an admin request without the token, for a foreign Host or Origin, or a write that is not JSON."""
    if api_of(request.path) != "admin":
        return
    token = str(config["ADMIN_TOKEN"])
    if token:
        sent = request.headers.get("Authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise AdminUnauthorized("the admin API needs Authorization: Bearer <the token eventdouble serve printed>")
    else:
        hosts = [h.lower() for h in config["ADMIN_HOSTS"]]
        if "*" not in hosts and _hostname(request.host) not in hosts:
            raise RequestForbidden(
                f"Host {request.host[:100]!r} is not allowed for the admin API (allowed: {', '.join(hosts)}); "
                "set an admin token to reach it under another name"
            )
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(request, origin):
        raise RequestForbidden(f"requests from origin {origin[:100]!r} may not use the admin API")
    if request.method in ADMIN_WRITE_METHODS and (request.mimetype or "") != "application/json":
        raise UnsupportedMediaType(
            f"admin writes must be Content-Type: application/json (got {request.mimetype or 'none'})"
        )


def _allowed_origin(request: Request, config: Config) -> str | None:
    """The request's ``Origin`` if CORS is on for it and the path is a vendor API's."""
    origin = request.environ.get("HTTP_ORIGIN")
    if origin is None or api_of(request.path) not in ("kosmos", "tenduke"):
        return None
    allowed = list(config["CORS_ORIGINS"])
    return origin if "*" in allowed or origin.rstrip("/") in [o.rstrip("/") for o in allowed] else None


def answer_preflight(request: Request, config: Config) -> Response | None:
    """A CORS preflight of a vendor API: 204 with the allowed methods and headers, or 403 if CORS is off for it."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    if api_of(request.path) not in ("kosmos", "tenduke"):
        raise RequestForbidden("cross-origin requests are not served here")
    origin = _allowed_origin(request, config)
    if origin is None:
        raise RequestForbidden(
            f"CORS is off for origin {request.headers.get('Origin', '')[:100]!r}; start the mock with --cors ORIGIN"
        )
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
    requested = request.headers.get("Access-Control-Request-Headers")
    if requested:  # the API reads any header it is sent: allow what the page asks for
        response.headers["Access-Control-Allow-Headers"] = requested
    response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
    return response


def cors_headers(request: Request, config: Config, response: Response) -> Response:
    """Add the CORS answer headers to a vendor API's response for an allowed origin."""
    origin = _allowed_origin(request, config)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
        response.headers.add("Vary", "Origin")
    return response
