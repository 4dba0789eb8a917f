"""Routes of the config area."""

from __future__ import annotations

from webapp.blueprints.config import bp  # noqa: F401
