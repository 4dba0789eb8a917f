"""A member's own preference: the model their calls use, among the models they may use."""

from __future__ import annotations

from webapp.models import User
from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.errors import ValidationError
from webapp.services.settings import layers as settings_service


def allowed_models(user: User) -> list[ModelInfo]:
    """Usable chat models allowed by every organization of the user that restricts them."""
    models = catalog_snapshot.usable_models()
    for membership in user.memberships:
        allowed = membership.organization.allowed_models
        if allowed:
            models = [m for m in models if m.global_id in allowed]
    return models


def preferred_model(user: User) -> str | None:
    pset = settings_service.parameter_set_for("user", user.id, create=False)
    return settings_service.as_form_values(pset)["model"]


def set_preferred_model(user: User, global_id: str | None) -> None:
    """Empty clears the preference (the organization's or global setting applies)."""
    if global_id and global_id not in {m.global_id for m in allowed_models(user)}:
        raise ValidationError({"model": "Choose one of the models you may use."})
    pset = settings_service.parameter_set_for("user", user.id)
    settings_service.update_settings(
        user, pset, {"model": global_id or None}, target_label=f"Preference of {user.email}"
    )
