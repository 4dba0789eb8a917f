"""Model names a gateway caller may send, and the aliases admins define for them.

A name is, in this order: a global id (``provider/model``), an admin-defined alias
(``default-chat``), a provider alone (``openai`` or ``openai/``: the provider's default
model, when the admin chose one), a profile name (``fast``; the org's own profile first,
then the global one: it stands for the profile's model), or a bare model id when exactly
one enabled model has it. Everything is read through the settings cache, so a change is
seen by every process within a second and a lookup costs no query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import CatalogModel, ModelAlias, User
from webapp.services.catalog import snapshot
from webapp.services.catalog.providers import require_admin
from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.changes import Change, commit_changes, conflict_on_stale, delete_record
from webapp.services.errors import NotFound, ValidationError
from webapp.services.settings.cache import settings_cache

ALIAS_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class UnknownModel(NotFound):
    """No model answers to the name."""


@dataclass(frozen=True)
class AliasView:
    id: int
    name: str
    model: str  # global id
    description: str | None


def _aliases() -> dict[str, int]:
    return dict(db.session.execute(sa.select(ModelAlias.name, ModelAlias.model_id)).all())


def _bare_ids() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for info in snapshot._catalog()[0].values():
        if info.usable:
            found.setdefault(info.model_id, []).append(info.id)
    return found


def _profile_model(org_id: int | None, name: str) -> int | None:
    from webapp.services.settings.resolution import _profile_layer

    layer = settings_cache().get(("profile", org_id, name), lambda: _profile_layer(org_id, name))
    return layer.values.get("model") if layer is not None else None


def _provider_default(name: str) -> ModelInfo | None:
    """``openai`` or ``openai/`` stands for the provider's default model, if it has one."""
    slug = name.removesuffix("/")
    if not slug or "/" in slug:
        return None
    provider = snapshot.provider_by_slug(slug)
    if provider is None or not provider.default_model:
        return None
    info = snapshot.model_by_global_id(f"{slug}/{provider.default_model}")
    if info is None:
        raise UnknownModel(
            f"The default model of {slug} ({provider.default_model!r}) is no longer in the "
            "catalog: ask an admin to choose another."
        )
    return info


def resolve_name(name: str, *, org_id: int | None = None) -> ModelInfo:
    """The catalog model ``name`` stands for, or UnknownModel. Whether the caller may use it
    (enabled, allowed) is for the settings resolution and the caller's token to say."""
    name = name.strip()
    cache = settings_cache()
    info = snapshot.model_by_global_id(name)
    if info is None and (alias := cache.get(("model_aliases",), _aliases).get(name)):
        info = snapshot.model_by_id(alias)
    if info is None:
        info = _provider_default(name)
    if info is None and "/" not in name and (profile := _profile_model(org_id, name)):
        info = snapshot.model_by_id(profile)
    if info is None and "/" not in name:
        ids = cache.get(("bare_model_ids",), _bare_ids).get(name, [])
        if len(ids) > 1:
            raise UnknownModel(
                f"Several providers offer a model {name!r}: send it as provider/model."
            )
        if ids:
            info = snapshot.model_by_id(ids[0])
    if info is None:
        raise UnknownModel(f"The model {name!r} does not exist.")
    return info


def list_aliases() -> list[AliasView]:
    rows = db.session.execute(
        sa.select(ModelAlias, CatalogModel).join(CatalogModel).order_by(ModelAlias.name)
    ).all()
    views = []
    for alias, model in rows:
        info = snapshot.model_by_id(model.id)
        views.append(
            AliasView(
                alias.id, alias.name, info.global_id if info else model.model_id, alias.description
            )
        )
    return views


def create_alias(name: str, model: str, description: str = "", *, actor: User | None) -> ModelAlias:
    """A new alias; ValidationError on ``name`` or ``model``."""
    require_admin(actor)
    name = (name or "").strip().lower()
    if not ALIAS_NAME.match(name):
        raise ValidationError(
            {"name": "Use 1–64 lower-case letters, digits, dots, dashes or underscores."}
        )
    if db.session.scalar(sa.select(ModelAlias.id).where(ModelAlias.name == name)):
        raise ValidationError({"name": f"There is already an alias {name!r}."})
    info = snapshot.require_model((model or "").strip(), "model")
    alias = ModelAlias(name=name, model_id=info.id, description=(description or "").strip() or None)
    conflict = f"An alias {name!r} was created at the same moment. Reload and try again."
    with conflict_on_stale(conflict, IntegrityError):  # the unique name, claimed twice
        db.session.add(alias)
        db.session.flush()
        change = Change(
            "create", "model_alias", alias.id, name, {"name": name, "model": info.global_id}
        )
        commit_changes(actor, [change], conflict=conflict, also=(IntegrityError,))
    return alias


def delete_alias(alias_id: int, *, actor: User | None) -> None:
    require_admin(actor)
    alias = db.session.get(ModelAlias, alias_id)
    if alias is None:
        raise NotFound("That alias does not exist.")
    delete_record(actor, alias, target_type="model_alias", target_label=alias.name, changes=None)
