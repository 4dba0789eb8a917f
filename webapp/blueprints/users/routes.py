"""Routes of the users area."""

from __future__ import annotations

from webapp.blueprints.users import bp  # noqa: F401
