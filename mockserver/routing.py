"""Build a blueprint from a spec: routes by operationId, validation before every handler."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, g, request

from mockserver.spec import OpenApiSpec, Operation, ValidatedRequest, load_spec

__all__ = ["current_operation", "spec_blueprint", "validated"]


def spec_blueprint(name: str, spec_name: str, handlers: Mapping[str, Callable[..., Any]]) -> Blueprint:
    """A blueprint serving every operation of ``openapi/<spec_name>.yaml`` with ``handlers``."""
    spec = load_spec(spec_name)
    blueprint = Blueprint(name, __name__)
    spec.bind(blueprint, handlers)

    @blueprint.before_request
    def validate_against_spec() -> None:
        op = spec.operations[request.endpoint.rsplit(".", 1)[-1]]  # type: ignore[union-attr]
        g.operation = op
        g.spec = spec
        g.validated = spec.validate(op, request, request.view_args or {})

    return blueprint


def validated() -> ValidatedRequest:
    """The current request's values, as checked against the spec."""
    result: ValidatedRequest = g.validated
    return result


def current_operation() -> tuple[OpenApiSpec, Operation]:
    """The spec and operation the current request was routed to."""
    return g.spec, g.operation
