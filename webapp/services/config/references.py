"""Config import, the parts that refer to other records: settings layers and the two
defaults, checked by the same rules as the editors (``settings.values.check_settings``,
``catalog.editing.check_default``) against the catalog and the organizations as they will be
after the import (stored records and those the same document creates or changes)."""

from __future__ import annotations

import json
from typing import Any

from webapp.services.audit import events as audit
from webapp.services.catalog.editing import check_default, default_model_errors
from webapp.services.config.document import (
    MISSING,
    Change,
    ImportPlan,
    Issue,
    Reader,
    model_reference,
)
from webapp.services.config.export import Stored
from webapp.services.errors import ValidationError
from webapp.services.settings.fields import NAMES
from webapp.services.settings.values import ModelRef, OrgPolicy, check_settings

NO_SETTINGS: dict[str, Any] = dict.fromkeys(NAMES)
KINDS = ("chat", "embedding")


def same(value: Any, current: Any) -> bool:
    """Whether the document repeats the stored value: equal as JSON, so ``true`` is not 1
    and ``1`` not ``1.0`` (the different one is checked, as the editor checks it)."""
    return json.dumps(value, sort_keys=True, default=str) == json.dumps(
        current, sort_keys=True, default=str
    )


class SettingsPlanner:
    """The planner's reference checks; ``_Planner`` fills in what it reads."""

    plan: ImportPlan
    issues: list[Issue]
    stored: Stored
    providers: dict[str, dict[str, Any]]  # slug -> the provider's document record
    models: dict[str, dict[str, Any]]  # global id -> the model's document record
    model_paths: dict[str, str]  # global id -> where the document has it

    def usable(self, global_id: str) -> bool:
        model = self.models[global_id]
        return model["enabled"] and self.providers[model["provider"]]["enabled"]

    def model_ref(self, global_id: str) -> ModelRef | None:
        """The catalog after the import, as ``check_settings`` looks models up."""
        if global_id not in self.models:
            return None
        return ModelRef(global_id, self.usable(global_id))

    def settings_diff(
        self, value: Any, path: str, current: dict[str, Any], org: OrgPolicy | None = None
    ) -> dict[str, Any]:
        """One layer's field diff. The fields the document changes go through
        ``check_settings``, as a save in the editor would; unchanged ones are left alone."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.issues.append(Issue(path, "must be a mapping of setting: value."))
            return {}
        changed = {k: v for k, v in value.items() if k not in current or not same(v, current[k])}
        try:
            checked = check_settings(changed, org=org, catalog=self.model_ref)
        except ValidationError as exc:
            self.issues.extend(Issue(f"{path}.{k}", m) for k, m in exc.errors.items())
            return {}
        return audit.diff({k: current[k] for k in checked}, checked)

    def layer_diff(
        self, reader: Reader, scope: str, row: Any, org: OrgPolicy | None = None
    ) -> dict[str, Any]:
        """The settings diff of a record that owns a parameter set."""
        before = self.stored.settings_of(scope, row.id) if row is not None else NO_SETTINGS
        data = reader.data.get("settings")
        return self.settings_diff(data, f"{reader.path}.settings", before, org)

    def defaults_section(self, value: Any) -> None:
        """One default chat and one default embedding model, by ``set_default``'s rules; and
        a default the document leaves in place stays a model the editor could save."""
        reader = Reader({} if value is None else value, "defaults", KINDS, self.issues)
        current = self.stored.defaults()
        final = dict(current)
        for kind in KINDS:
            wanted = reader.get(kind, model_reference)
            if wanted is MISSING or wanted is None:
                continue
            if wanted == "":  # a default cannot be none
                reader.error(kind, "must be a provider/model id (null leaves it as it is).")
                continue
            if wanted == current[kind]:
                self.plan.unchanged += 1
                continue
            ref = self.model_ref(wanted)
            if ref is None:
                reader.error(kind, f"{wanted!r} is not in the model catalog.")
                continue
            try:
                category = self.models[wanted]["category"]
                check_default(kind, wanted, category=category, usable=ref.usable)
            except ValidationError as exc:
                reader.error(kind, exc.message)
                continue
            final[kind] = wanted
            diff = {kind: {"before": current[kind], "after": wanted}}
            change = Change(
                "defaults", kind, "update", f"defaults.{kind}", (kind,), diff, values={kind: wanted}
            )
            self.plan.changes.append(change)
        self.kept_defaults(current, final)

    def kept_defaults(self, current: dict[str, Any], final: dict[str, Any]) -> None:
        """A default the document changes (disabled, another category) but keeps as the
        default: refused at the model's field, as the model editor refuses it."""
        for global_id in {g for g in current.values() if g in self.model_paths}:
            kinds = {kind for kind in KINDS if final[kind] == global_id}
            model = self.models[global_id]
            errors = default_model_errors(
                kinds, enabled=model["enabled"], category=model["category"]
            )
            path = self.model_paths[global_id]
            self.issues.extend(Issue(f"{path}.{field}", m) for field, m in errors.items())

    def global_settings(self, value: Any) -> None:
        diff = self.settings_diff(value, "settings", self.stored.settings_of("global"))
        if value is not None and not diff:
            self.plan.unchanged += 1
        elif diff:
            change = Change("settings", "global", "update", "settings", ("global",), settings=diff)
            self.plan.changes.append(change)
