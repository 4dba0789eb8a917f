"""Routes of the orgs area."""

from __future__ import annotations

from webapp.blueprints.orgs import bp  # noqa: F401
