"""The framework's ceiling: a Flask app that answers 200 to every request, served like the mock."""

from __future__ import annotations

from flask import Flask, Response

app = Flask("bare")


@app.route("/", defaults={"path": ""}, methods=["GET", "PUT", "POST"])
@app.route("/<path:path>", methods=["GET", "PUT", "POST"])
def ok(path: str) -> Response:
    """200 with an empty body, whatever the request."""
    return Response(status=200)
