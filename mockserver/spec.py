"""Load an OpenAPI 3.0 document, bind its operations to Flask views, validate requests against it.

The spec is the only place where shapes are written down: parameter, header and body schemas
are read from it at start-up and checked with jsonschema before any handler runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
from flask import Blueprint, Request
from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from eventclient import strict_json
from mockserver.errors import RequestValidationError, UnsupportedMediaType
from mockserver.fastschema import fast_validator

__all__ = ["SPEC_DIR", "Credential", "OpenApiSpec", "Operation", "Parameter", "ValidatedRequest", "load_spec"]

SPEC_DIR = resources.files("eventdouble.openapi")
"""The specs: ``openapi/`` at the repository root, shipped in the wheel as package data."""
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
MAX_MESSAGE = 300


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass
class ValidatedRequest:
    """What a handler gets: path, query and header values coerced to their schema types, and the body."""

    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    media_type: str | None = None


@dataclass(frozen=True)
class Parameter:
    """A path, query or header parameter, with what validating it needs worked out at start."""

    name: str
    pointer: str
    """The JSON pointer of its schema (the key of its validators)."""
    schema: dict[str, Any]
    """Its schema, ``$ref`` resolved."""
    required: bool


@dataclass(frozen=True)
class Credential:
    """One credential a security requirement asks for: a non-empty header, or a bearer token."""

    header: str
    bearer: bool = False


@dataclass
class Operation:
    """One operation of the spec with the validators built for it."""

    operation_id: str
    method: str
    path: str
    raw: dict[str, Any]
    params: dict[str, list[Parameter]]  # location -> its parameters
    bodies: dict[str, str]  # media type -> schema pointer
    body_required: bool
    security: list[list[Credential]]
    """Alternative requirements: one of them must have all its credentials present."""

    @property
    def flask_rule(self) -> str:
        """The path with ``{name}`` turned into Flask's ``<name>``."""
        return re.sub(r"{([^}]+)}", r"<\1>", self.path)

    def extension(self, name: str, default: Any = None) -> Any:
        """The value of an ``x-`` extension on this operation."""
        return self.raw.get(name, default)


class OpenApiSpec:
    """An OpenAPI document with its operations indexed by operationId."""

    cross_check = False
    """Also run jsonschema on what the fast validator accepts, and fail loudly if they disagree.
    The test suite turns this on, so every request it sends checks the fast validator."""

    def __init__(self, document: dict[str, Any], uri: str) -> None:
        self.document = document
        self.uri = uri
        self.registry: Registry = Registry().with_resource(uri, DRAFT4.create_resource(document))
        self.operations: dict[str, Operation] = {}
        for path, item in document.get("paths", {}).items():
            for method in HTTP_METHODS:
                if method in item:
                    op = self._operation(path, method, item)
                    self.operations[op.operation_id] = op
        self._validators: dict[str, OAS30Validator] = {}
        self._fast: dict[str, Callable[[Any], bool] | None] = {}

    def resolve(self, obj: Any) -> Any:
        """Follow local ``$ref`` chains to the object they point at."""
        while isinstance(obj, dict) and "$ref" in obj:
            obj = self.resolve_pointer(obj["$ref"].removeprefix("#"))
        return obj

    def resolve_pointer(self, pointer: str) -> Any:
        """The object at a JSON pointer in the document."""
        node: Any = self.document
        for token in filter(None, pointer.split("/")):
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def _pointer_of(self, obj: Any, pointer: str) -> str:
        while isinstance(obj, dict) and "$ref" in obj:
            pointer = obj["$ref"].removeprefix("#")
            obj = self.resolve_pointer(pointer)
        return pointer

    def _operation(self, path: str, method: str, item: dict[str, Any]) -> Operation:
        raw = item[method]
        base = f"/paths/{_escape(path)}"
        params: dict[str, list[Parameter]] = {"path": [], "query": [], "header": []}
        sources = [(p, f"{base}/parameters/{i}") for i, p in enumerate(item.get("parameters", []))]
        sources += [(p, f"{base}/{method}/parameters/{i}") for i, p in enumerate(raw.get("parameters", []))]
        for param, pointer in sources:
            pointer = self._pointer_of(param, pointer) + "/schema"
            param = self.resolve(param)
            if param["in"] in params:
                schema = self.resolve(self.resolve_pointer(pointer))
                params[param["in"]].append(Parameter(param["name"], pointer, schema, bool(param.get("required"))))
        body = self.resolve(raw.get("requestBody", {}))
        body_base = self._pointer_of(raw.get("requestBody", {}), f"{base}/{method}/requestBody")
        bodies = {media: f"{body_base}/content/{_escape(media)}/schema" for media in body.get("content", {})}
        return Operation(
            operation_id=raw["operationId"],
            method=method.upper(),
            path=path,
            raw=raw,
            params=params,
            bodies=bodies,
            body_required=bool(body.get("required")),
            security=[
                [self._credential(name) for name in requirement]
                for requirement in raw.get("security", self.document.get("security", []))
            ],
        )

    def _credential(self, scheme_name: str) -> Credential:
        scheme = self.resolve(self.document["components"]["securitySchemes"][scheme_name])
        if scheme["type"] == "apiKey" and scheme["in"] == "header":
            return Credential(scheme["name"])
        if scheme["type"] == "http" and scheme["scheme"].lower() == "bearer":
            return Credential("Authorization", bearer=True)
        raise ValueError(f"{self.uri}: security scheme {scheme_name!r} is not one the mock can check")

    def validator(self, pointer: str) -> OAS30Validator:
        """A (cached) validator for the schema at ``pointer``."""
        if pointer not in self._validators:
            # Validate the schema itself, resolving its inner $refs from the document's URI: a
            # top-level {"$ref": ...} would cost a registry lookup on every request.
            self._validators[pointer] = OAS30Validator(
                self.resolve_pointer(pointer),
                registry=self.registry,
                format_checker=oas30_format_checker,
                _resolver=self.registry.resolver(base_uri=self.uri),
            )
        return self._validators[pointer]

    def check(self, pointer: str, instance: Any, where: str) -> None:
        """Raise :class:`RequestValidationError` with the best jsonschema error, if any.

        A compiled validator accepts most valid instances first (mockserver/fastschema.py);
        jsonschema decides everything else and words every error.
        """
        if pointer not in self._fast:
            self._fast[pointer] = fast_validator(self.resolve_pointer(pointer), self.resolve_pointer)
        fast = self._fast[pointer]
        accepted = fast is not None and fast(instance)
        if accepted and not self.cross_check:
            return
        errors = list(self.validator(pointer).iter_errors(instance))
        if errors and accepted:
            raise AssertionError(f"the fast validator accepted what jsonschema refuses at {pointer}: {instance!r}")
        plain = [e for e in errors if e.validator not in ("anyOf", "oneOf")]
        error = best_match(plain or errors)
        if error is not None:
            raise _refusal(error, where)

    def check_handlers(self, handlers: Mapping[str, Callable[..., Any]]) -> None:
        """Raise ValueError unless ``handlers`` has one handler per operation, by operationId, and no other."""
        missing = sorted(set(self.operations) - set(handlers))
        extra = sorted(set(handlers) - set(self.operations))
        if missing or extra:
            raise ValueError(f"{self.uri}: operations without handler {missing}, handlers without operation {extra}")

    def bind(self, blueprint: Blueprint, handlers: Mapping[str, Callable[..., Any]]) -> None:
        """Route every operation to its handler; refuse to start if the two sets differ."""
        self.check_handlers(handlers)
        for op_id, op in self.operations.items():
            blueprint.add_url_rule(op.flask_rule, endpoint=op_id, view_func=handlers[op_id], methods=[op.method])

    def validate(self, op: Operation, request: Request, view_args: Mapping[str, Any]) -> ValidatedRequest:
        """Check security headers, parameters and body of ``request`` against ``op``."""
        headers = request.headers
        _check_security(op, headers)
        result = ValidatedRequest()
        for location in ("path", "query", "header"):
            values = {}
            params = op.params[location]
            if not params:  # the query string is parsed only for an operation that has query parameters
                setattr(result, location, values)
                continue
            source = view_args if location == "path" else request.args if location == "query" else headers
            for param in params:
                value = source.get(param.name)
                if value is not None:
                    values[param.name] = _coerce(value, param.schema)
                    self.check(param.pointer, values[param.name], f"{location} parameter {param.name!r}")
                elif param.required:
                    raise RequestValidationError(f"{location} parameter {param.name!r} is required")
                elif location == "query" and "default" in param.schema:
                    values[param.name] = param.schema["default"]
            setattr(result, location, values)
        if op.bodies:
            result.media_type, result.body = self._body(op, request)
        return result

    def _body(self, op: Operation, request: Request) -> tuple[str | None, Any]:
        data = request.get_data(cache=True)
        if not data:
            if op.body_required:
                raise RequestValidationError("request body is required")
            return None, None
        sent = (request.mimetype or "").lower()
        media = sent if sent in op.bodies else None
        if media is None and (not sent or sent.endswith("+json")) and "application/json" in op.bodies:
            media = "application/json"
        if media is None:
            accepted = ", ".join(op.bodies)
            raise UnsupportedMediaType(f"Content-Type {sent or '(none)'} is not supported; send {accepted}")
        if media.endswith("json"):
            try:
                body: Any = strict_json.loads(data)
            except strict_json.JsonRefused as exc:
                raise RequestValidationError(f"request body is not valid JSON: {exc}") from exc
        else:
            try:
                body = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RequestValidationError("request body is not UTF-8 text") from exc
        self.check(op.bodies[media], body, "body")
        return media, body


def _check_security(op: Operation, headers: Mapping[str, str]) -> None:
    """At least one security requirement must have all its credentials present and non-empty."""
    problem = None
    for requirement in op.security:
        problem = None
        for credential in requirement:
            value = headers.get(credential.header, "")
            if credential.bearer:
                if not value.lower().startswith("bearer ") or not value[7:].strip():
                    problem = RequestValidationError("Authorization: a Bearer token is required", 401)
                    break
            elif not value.strip():
                problem = RequestValidationError(f"{credential.header}: This header should not be empty")
                break
        if problem is None:
            return
    if problem is not None:
        raise problem


def _coerce(value: str, schema: Mapping[str, Any]) -> Any:
    """Turn a path, query or header string into the type its schema asks for, if it can."""
    kind = schema.get("type")
    try:
        if kind == "integer" and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        if kind == "number":
            number = float(value)
            return number if number == number and abs(number) != float("inf") else value
        if kind == "boolean" and value.lower() in {"true", "false"}:
            return value.lower() == "true"
    except ValueError:
        pass
    return value


def _closest_branch_error(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf, the best error of the branch the instance was meant for.

    A branch whose own ``type`` or ``enum`` fails was not meant for this instance; among the
    others, jsonschema's ranking picks the error to show.
    """
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        meant = [
            errs for errs in branches.values()
            if not any(
                e.validator == "enum" or (e.validator == "type" and len(e.relative_path) == 0) for e in errs
            )
        ]  # fmt: skip
        if len(meant) != 1:
            break
        error = best_match(meant[0]) or error
    return error


FIELD_EMPTY = "This field should not be empty"
"""The reports service's words for a required field missing or empty (the vendor's Postman collection)."""


def _refusal(error: ValidationError, where: str) -> RequestValidationError:
    """The refusal of a value ``error`` found, naming the field at fault (for the reports service's envelope)."""
    error = _closest_branch_error(error)
    refusal = RequestValidationError(_describe(error, where))
    field = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        field += missing[:1]
        refusal.reports_message = FIELD_EMPTY
    elif error.instance == "":
        refusal.reports_message = FIELD_EMPTY
    elif isinstance(error.schema, dict) and isinstance(error.schema.get("x-refusal-message"), str):
        refusal.reports_message = error.schema["x-refusal-message"]
    if field:
        refusal.param = ".".join(field)
    return refusal


def _describe(error: ValidationError, where: str) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    message = error.message
    if error.validator == "pattern" and isinstance(error.schema, dict) and error.schema.get("description"):
        message = f"does not match the expected form: {error.schema['description']}"
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + "..."
    return f"{where}{path}: {message}"


@cache
def load_spec(name: str) -> OpenApiSpec:
    """Load ``openapi/<name>.yaml`` (cached: specs do not change while the process runs)."""
    document = yaml.safe_load((SPEC_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    return OpenApiSpec(document, f"urn:eventdouble:{name}")
