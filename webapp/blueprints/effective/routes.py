"""Routes of the effective area."""

from __future__ import annotations

from webapp.blueprints.effective import bp  # noqa: F401
