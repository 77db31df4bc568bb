"""The framework's ceiling: a Flask app that answers 200 to every request, served like the mock."""

from __future__ import annotations

from flask import Flask, Response

app = Flask("bare")


@app.route("/", defaults={"path": ""}, methods=["GET", "PUT", "POST"])
@app.route("/<path:path>", methods=["GET", "PUT", "POST"])
def ok(path: str) -> Response:
    """200 with an empty body, whatever the request."""
    return Response(status=200)


def create_app(config: object = None) -> Flask:
    """The app, for the mock's worker processes (``mockserver.serving.serve_workers``)."""
    return app


if __name__ == "__main__":  # served like `eventdouble serve --workers N`: bare_flask.py PORT WORKERS
    import sys

    from mockserver.serving import listen, serve_workers

    serve_workers({}, listen("127.0.0.1", int(sys.argv[1])), int(sys.argv[2]), factory="bare_flask:create_app")
