"""Routes of the defaults area."""

from __future__ import annotations

from webapp.blueprints.defaults import bp  # noqa: F401
