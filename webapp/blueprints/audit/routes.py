"""Routes of the audit area."""

from __future__ import annotations

from webapp.blueprints.audit import bp  # noqa: F401
