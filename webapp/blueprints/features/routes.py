"""Routes of the features area."""

from __future__ import annotations

from webapp.blueprints.features import bp  # noqa: F401
