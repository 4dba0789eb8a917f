"""Apply a configuration import: re-plan, then write every change in one transaction.

Any error — in the document or from the database — leaves the database as it was.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.models import (
    CatalogModel,
    Feature,
    Organization,
    ParameterSet,
    Profile,
    Provider,
    SettingsScope,
    User,
)
from webapp.services.accounts import recent_sign_in
from webapp.services.accounts.orgs import write_org
from webapp.services.audit import events as audit
from webapp.services.catalog.editing import write_model
from webapp.services.catalog.providers import write_provider
from webapp.services.config.document import Change, ImportPlan, Issue
from webapp.services.config.export import load_stored
from webapp.services.config.importing import SCHEMA_NAMES, plan_import
from webapp.services.credentials import url_guard
from webapp.services.settings import layers as settings
from webapp.services.settings.cache import bump_settings_version
from webapp.services.settings.features import write_feature
from webapp.services.settings.fields import COLUMN
from webapp.services.settings.profiles import write_profile

log = logging.getLogger(__name__)


class _Writer:
    """Writes planned changes in plan order, auditing each one in the same transaction."""

    def __init__(self, actor: User | None) -> None:
        self.actor = actor
        self.stored = load_stored()

    def write(self, plan: ImportPlan) -> None:
        handlers = {
            "provider": self.provider,
            "model": self.model,
            "defaults": self.default,
            "settings": self.global_settings,
            "profile": self.profile,
            "feature": self.feature,
            "organization": self.org,
        }
        for change in plan.changes:
            row, org_id = handlers[change.kind](change, change.values)
            db.session.flush()
            audit.record(
                change.action,
                change.kind,
                actor=self.actor,
                target_id=row.id,
                target_label=change.key,
                changes=change.audit_changes(),
                org_id=org_id,
            )

    def settings(self, pset: ParameterSet, diff: dict[str, Any]) -> None:
        for name, values in diff.items():
            value = values["after"]
            if name == "model" and value is not None:
                provider, _, model_id = value.partition("/")
                value = self.stored.models[(provider, model_id)].id
            setattr(pset, COLUMN.get(name, name), value)
        if diff:
            pset.updated_by_id = self.actor.id if self.actor else None

    def provider(self, change: Change, values: dict[str, Any]) -> tuple[Provider, None]:
        """Through the provider service's writer, as the provider form does."""
        row = self.stored.providers.get(change.ident[0])
        if row is None:
            row = write_provider(Provider(is_preset=False), change.typed)
            self.stored.providers[change.ident[0]] = row
        else:
            write_provider(row, {name: change.typed[name] for name in values})
        return row, None

    def model(self, change: Change, values: dict[str, Any]) -> tuple[CatalogModel, None]:
        """Through the catalog service's writer, as the model form does."""
        typed = {k: v for k, v in change.typed.items() if k not in ("provider", "model_id")}
        row = self.stored.models.get(change.ident)
        if row is None:
            row = CatalogModel(provider=self.stored.providers[change.ident[0]])
            row.model_id = change.ident[1]
            self.stored.models[change.ident] = row
        else:
            typed = {name: typed[name] for name in values if name in typed}
        write_model(row, typed, price_source="config import")
        return row, None

    def default(self, change: Change, values: dict[str, Any]) -> tuple[CatalogModel, None]:
        """Clear the old flag and flush first: a partial unique index allows only one."""
        kind = change.ident[0]
        column = f"is_default_{kind}"
        for row in self.stored.models.values():
            if getattr(row, column):
                setattr(row, column, False)
        db.session.flush()
        provider, _, model_id = values[kind].partition("/")
        row = self.stored.models[(provider, model_id)]
        setattr(row, column, True)
        return row, None

    def global_settings(self, change: Change, values: dict[str, Any]) -> tuple[Any, None]:
        pset = settings.parameter_set_for(SettingsScope.GLOBAL)
        self.settings(pset, change.settings)
        return pset, None

    def _org_id(self, org: str | None) -> int | None:
        return self.stored.orgs[org].id if org else None

    def profile(self, change: Change, values: dict[str, Any]) -> tuple[Profile, int | None]:
        """Through the profile service's writer, as the profile form does."""
        org_id = self._org_id(change.ident[0])
        row = self.stored.profiles.get(change.ident)
        if row is None:
            row = self.stored.profiles[change.ident] = Profile(org_id=org_id)
        write_profile(row, _changed(change, values))
        db.session.flush()
        self.settings(
            row.settings or settings.parameter_set_for("profile", row.id), change.settings
        )
        return row, org_id

    def feature(self, change: Change, values: dict[str, Any]) -> tuple[Feature, int | None]:
        """Through the feature service's writer, as the feature form does."""
        org_id = self._org_id(change.ident[0])
        row = self.stored.features.get(change.ident)
        if row is None:
            row = self.stored.features[change.ident] = Feature(org_id=org_id)
        changed = _changed(change, values)
        write_feature(row, {SCHEMA_NAMES.get(k, k): v for k, v in changed.items()})
        db.session.flush()
        self.settings(
            row.settings or settings.parameter_set_for("feature", row.id), change.settings
        )
        return row, org_id

    def org(self, change: Change, values: dict[str, Any]) -> tuple[Organization, int]:
        """Through the orgs service's writer, as the organization form does."""
        row = self.stored.orgs.get(change.ident[0])
        if row is None:
            row = self.stored.orgs[change.ident[0]] = Organization()
        write_org(row, _changed(change, values))
        db.session.flush()
        if change.settings:
            self.settings(settings.parameter_set_for("org", row.id), change.settings)
        return row, row.id


def _changed(change: Change, values: dict[str, Any]) -> dict[str, Any]:
    """What to write: a new record whole (identity included), a stored one's changed fields."""
    if change.action == "create":
        return change.typed
    return {name: change.typed[name] for name in values if name in change.typed}


def apply_import(
    actor: User | None,
    document: Any,
    *,
    resolver: url_guard.Resolver = url_guard.system_resolver,
) -> ImportPlan:
    """Re-plan, then write every change in one transaction: all of it or, on any error, none.
    A person (not the command line) needs a recent sign-in."""
    if actor is not None:
        recent_sign_in.require("Importing a configuration")
    plan = plan_import(document, resolver=resolver)
    if plan.ok and plan.changes:
        try:
            _Writer(actor).write(plan)
            audit.record(
                "import",
                "config",
                actor=actor,
                target_label="configuration import",
                changes=plan.counts(),
            )
            bump_settings_version()
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("configuration import rolled back")
            message = (
                "The database refused the import, so nothing was changed. If someone else was "
                "editing the same records, preview again, then apply."
            )
            plan.errors.append(Issue("", message))
            return plan
        except BaseException:
            db.session.rollback()
            raise
    plan.applied = plan.ok
    return plan
