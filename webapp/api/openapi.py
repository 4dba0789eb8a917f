"""The OpenAPI 3.1 document, built from the route declarations (``core.route``) and the very
pydantic schemas the routes validate and serialize with; and the reference page.

Why no library: OpenAPI 3.1's schema dialect is JSON Schema 2020-12, which pydantic v2's
``model_json_schema`` already writes, so the document is a walk over the declared routes.
The libraries that do this (APIFlask, flask-openapi3, spectree) either replace the Flask app
class or wrap every view in their own validation, which would duplicate the services'.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Response, current_app, jsonify, render_template
from pydantic import BaseModel, TypeAdapter

from webapp.api import docs_bp
from webapp.api.core import OPERATIONS, PROBLEM, Operation
from webapp.api.schemas import Problem

REF = "#/components/schemas/{model}"
ID_SCHEMA = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


class _Components:
    """Named schemas, each stored once; a name reused for a different schema gets a suffix."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def _put(self, name: str, schema: dict[str, Any]) -> str:
        candidate, n = name, 1
        while candidate in self.schemas and self.schemas[candidate] != schema:
            n += 1
            candidate = f"{name}{n}"
        self.schemas[candidate] = schema
        return candidate

    def ref(self, kind: Any, mode: str) -> dict[str, Any]:
        """A ``$ref`` to ``kind``'s schema (models by name), or the schema itself."""
        schema = TypeAdapter(kind).json_schema(mode=mode, ref_template=REF)  # type: ignore[arg-type]
        for name, sub in schema.pop("$defs", {}).items():
            self._put(name, sub)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            name = kind.__name__.replace("[", "_").replace("]", "").replace(",", "_")
            return {"$ref": REF.format(model=self._put(name, schema))}
        return schema


def _parameters(op: Operation, components: _Components) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": dict(ID_SCHEMA)}
        for name in op.path_params
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(mode="validation", ref_template=REF)
        for name, sub in schema.pop("$defs", {}).items():
            components._put(name, sub)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description := prop.get("description"):
                param["description"] = description
            params.append(param)
    return params


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def _responses(op: Operation, components: _Components) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "Success"}
    if op.csv:
        success["content"] = {"text/csv": {"schema": {"type": "string"}}}
    elif op.status != 204:
        schema = components.ref(op.response, "serialization") if op.response else {}
        success["content"] = {"application/json": {"schema": schema}}
    rate = {
        "RateLimit": {"schema": {"type": "string"}, "description": "Remaining requests."},
        "RateLimit-Policy": {"schema": {"type": "string"}, "description": "The limits."},
    }
    success["headers"] = rate
    responses: dict[str, Any] = {
        str(op.status): success,
        "401": _problem("No access token, or one that is invalid, revoked or expired."),
        "403": _problem("The token's owner may not do this, or the token is read-only."),
        "404": _problem("Not found, or not visible to the token's owner."),
        "422": _problem("Invalid input; `errors` lists the messages by field."),
        "429": {
            **_problem(
                "Rate limit reached, or too many refused access tokens from this address; "
                "retry after `Retry-After` seconds."
            ),
            "headers": {"Retry-After": {"schema": {"type": "string"}}},
        },
        "default": _problem("Any other error, in the same shape."),
    }
    if op.method != "get":
        responses["409"] = _problem("Stale `version`, or a conflicting concurrent change.")
    return responses


def _operation(op: Operation, components: _Components) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "responses": _responses(op, components),
    }
    if op.description:
        out["description"] = op.description
    if params := _parameters(op, components):
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": components.ref(op.body, "validation")}},
        }
    if op.sensitive:
        out["x-rate-limit-policy"] = "sensitive"
    return out


@cache
def _document() -> dict[str, Any]:
    components = _Components()
    components._put("Problem", Problem.model_json_schema(ref_template=REF))
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault("/api/v1" + op.rule, {})[op.method] = _operation(op, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard management API",
            "version": "1",
            "description": (
                "Everything the admin and member pages manage, as JSON. Authenticate with an "
                "access token (`Authorization: Bearer sb-…`) whose scope is `full` (or "
                "`read_only` for GET routes); it acts with its owner's permissions. Errors "
                "are RFC 9457 problem details. Lists are paged by cursor: pass a page's "
                "`next_cursor` as `cursor`. Updates send the `version` they read (a stale "
                "one is a 409)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document (built once per process: the routes and schemas are fixed)."""
    return _document()


@docs_bp.route("/v1/openapi.json")
def openapi_json() -> Response:
    response = jsonify(document())
    response.headers["Cache-Control"] = "no-store"
    return response


@docs_bp.route("/docs")
def reference() -> Response:
    """The reference page (Swagger UI, vendored under static/vendor/swagger-ui)."""
    return current_app.make_response(render_template("api/docs.html"))
