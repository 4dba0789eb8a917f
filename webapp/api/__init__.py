"""The JSON management API (``/api/v1``): access tokens only, problem-details errors, an
OpenAPI 3.1 document built from the schemas the routes validate with, and a reference page
at ``/api/docs``.

Every route calls the same services as the pages, with the token's owner as the actor: the
services check permissions, validate, audit and commit; the API adds no rules of its own
beyond the shape of a JSON body.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
docs_bp = Blueprint("api_docs", __name__, url_prefix="/api")

# The modules register hooks, routes and the document on the blueprints above.
from webapp.api import core, openapi, resources  # noqa: E402,F401
