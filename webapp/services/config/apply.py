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
from webapp.services.catalog.editing import DEFAULT_COLUMNS, write_default, write_model
from webapp.services.catalog.providers import write_provider
from webapp.services.changes import Change as AuditedChange
from webapp.services.changes import commit_changes
from webapp.services.config.document import Change, ImportPlan, Issue
from webapp.services.config.export import load_stored
from webapp.services.config.importing import SCHEMA_NAMES, plan_import
from webapp.services.credentials import url_guard
from webapp.services.errors import Conflict, PermissionDenied
from webapp.services.settings import layers as settings
from webapp.services.settings.features import write_feature
from webapp.services.settings.profiles import write_profile

log = logging.getLogger(__name__)
IMPORT_LABEL = "configuration import"
REFUSED = (
    "The database refused the import, so nothing was changed. If someone else was editing the "
    "same records, preview again, then apply."
)


class _Writer:
    """Writes planned changes in plan order, auditing each one in the same transaction."""

    def __init__(self, actor: User | None) -> None:
        self.actor = actor
        self.stored = load_stored()

    def write(self, plan: ImportPlan) -> list[AuditedChange]:
        """Write the plan's changes; what to audit for each."""
        handlers = {
            "provider": self.provider,
            "model": self.model,
            "defaults": self.default,
            "settings": self.global_settings,
            "profile": self.profile,
            "feature": self.feature,
            "organization": self.org,
        }
        audited = []
        for change in plan.changes:
            row, org_id = handlers[change.kind](change, change.values)
            db.session.flush()
            audited.append(
                AuditedChange(
                    change.action, change.kind, row.id, change.key, change.audit_changes(), org_id
                )
            )
        return audited

    def model_id(self, global_id: str) -> int:
        """A model's id, stored or created by this import (flushed, so it has one)."""
        provider, _, model_id = global_id.partition("/")
        return self.stored.models[(provider, model_id)].id

    def settings(self, pset: ParameterSet, diff: dict[str, Any]) -> None:
        """Through the settings writer, as an editor's save does (the planner checked the
        values with ``check_settings``)."""
        if diff:
            checked = {name: values["after"] for name, values in diff.items()}
            settings.write_settings(pset, checked, self.actor, model_id=self.model_id)

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
        """Through the catalog's default writer, as ``set_default`` does (the planner checked
        its rules with ``check_default``)."""
        kind = change.ident[0]
        column = DEFAULT_COLUMNS[kind]
        previous = next((m for m in self.stored.models.values() if getattr(m, column)), None)
        provider, _, model_id = values[kind].partition("/")
        row = self.stored.models[(provider, model_id)]
        write_default(row, kind, previous)
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
    The configuration is the site's: admins (or the system, ``actor`` None) only, and a person
    (not the command line) needs a recent sign-in."""
    if actor is not None:
        if not actor.is_admin:
            raise PermissionDenied("Only admins import configuration.")
        recent_sign_in.require("Importing a configuration")
    plan = plan_import(document, resolver=resolver)
    if plan.ok and plan.changes:
        # Any database error (a record someone else changed or created meanwhile) is the same
        # answer: nothing was written.
        try:
            audited = _Writer(actor).write(plan)
            summary = AuditedChange("import", "config", None, IMPORT_LABEL, plan.counts())
            commit_changes(actor, [*audited, summary], conflict=REFUSED, also=(SQLAlchemyError,))
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("configuration import rolled back")
            plan.errors.append(Issue("", REFUSED))
            return plan
        except Conflict:
            plan.errors.append(Issue("", REFUSED))
            return plan
        except BaseException:
            db.session.rollback()
            raise
    plan.applied = plan.ok
    return plan
