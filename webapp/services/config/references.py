"""Config import, the parts that refer to other records: model references in settings
layers and the two defaults, checked against the catalog as it will be after the import
(stored models and those the same document creates)."""

from __future__ import annotations

import math
from typing import Any

from webapp.services.audit import events as audit
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
from webapp.services.settings import layers as settings
from webapp.services.settings.fields import NAMES

MODEL_REFS = ("model", "fallback_models")
NO_SETTINGS: dict[str, Any] = dict.fromkeys(NAMES)


class SettingsPlanner:
    """The planner's reference checks; ``_Planner`` fills in what it reads."""

    plan: ImportPlan
    issues: list[Issue]
    stored: Stored
    providers: dict[str, dict[str, Any]]  # slug -> the provider's document record
    models: dict[str, dict[str, Any]]  # global id -> the model's document record

    def usable(self, global_id: str) -> bool:
        model = self.models[global_id]
        return model["enabled"] and self.providers[model["provider"]]["enabled"]

    def model_ref(self, value: Any, path: str, current: Any) -> Any:
        """A changed ``provider/model`` reference must exist (stored or in the document) and be
        usable; unchanged ones are left as they are."""
        if value is None or value == "":
            return None
        if value == current:
            return value
        if not isinstance(value, str):
            self.issues.append(Issue(path, "must be a provider/model id."))
        elif value not in self.models:
            self.issues.append(Issue(path, f"{value!r} is not in the model catalog."))
        elif not self.usable(value):
            self.issues.append(Issue(path, f"{value} is disabled; choose an enabled model."))
        else:
            return value
        return MISSING

    def fallbacks(self, value: Any, path: str, current: Any) -> Any:
        """Fallback models, with the limits ``settings.clean`` applies."""
        if value is None or value == "":
            return None
        if value == current:
            return value
        limit = settings.MAX_FALLBACKS
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.issues.append(Issue(path, "Give a list of provider/model ids."))
        elif len(value) > limit or len(set(value)) != len(value):
            self.issues.append(Issue(path, f"At most {limit} different fallback models."))
        elif unknown := [v for v in value if v not in self.models]:
            self.issues.append(Issue(path, f"{unknown[0]!r} is not in the model catalog."))
        else:
            return list(value)
        return MISSING

    def settings_diff(self, value: Any, path: str, current: dict[str, Any]) -> dict[str, Any]:
        """One layer's field diff. Values go through ``settings.clean``; model references are
        checked here because they may name models this same document creates."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.issues.append(Issue(path, "must be a mapping of setting: value."))
            return {}
        infinite = {k for k, v in value.items() if isinstance(v, float) and not math.isfinite(v)}
        self.issues.extend(Issue(f"{path}.{k}", "must be a finite number.") for k in infinite)
        plain = {k: v for k, v in value.items() if k not in MODEL_REFS and k not in infinite}
        try:
            cleaned = settings.clean(plain)
        except ValidationError as exc:
            self.issues.extend(Issue(f"{path}.{k}", m) for k, m in exc.errors.items())
            cleaned = {}
        if "model" in value:
            cleaned["model"] = self.model_ref(value["model"], f"{path}.model", current["model"])
        if "fallback_models" in value:
            old, new = current["fallback_models"], value["fallback_models"]
            cleaned["fallback_models"] = self.fallbacks(new, f"{path}.fallback_models", old)
        cleaned = {k: v for k, v in cleaned.items() if v is not MISSING}
        return audit.diff({k: current[k] for k in cleaned}, cleaned)

    def layer_diff(self, reader: Reader, scope: str, row: Any) -> dict[str, Any]:
        """The settings diff of a record that owns a parameter set."""
        before = self.stored.settings_of(scope, row.id) if row is not None else NO_SETTINGS
        return self.settings_diff(reader.data.get("settings"), f"{reader.path}.settings", before)

    def defaults_section(self, value: Any) -> None:
        """One default chat and one default embedding model, each of the right category."""
        keys = ("chat", "embedding")
        reader = Reader({} if value is None else value, "defaults", keys, self.issues)
        current = self.stored.defaults()
        for kind in ("chat", "embedding"):
            wanted, path = reader.get(kind, model_reference), f"defaults.{kind}"
            if wanted is MISSING or wanted is None:
                wanted = current[kind]  # left alone
            elif wanted == "":  # model_ref reads "" as "none": a default cannot be none
                reader.error(kind, "must be a provider/model id (null leaves it as it is).")
                continue
            elif wanted == current[kind]:
                self.plan.unchanged += 1
            elif self.model_ref(wanted, path, None) is MISSING:
                continue
            else:
                diff = {kind: {"before": current[kind], "after": wanted}}
                change = Change(
                    "defaults", kind, "update", path, (kind,), diff, values={kind: wanted}
                )
                self.plan.changes.append(change)
            category = self.models[wanted]["category"] if wanted in self.models else None
            if category and (category == "embedding") != (kind == "embedding"):
                reader.error(kind, f"{wanted} is a {category} model: not a default {kind} model.")

    def global_settings(self, value: Any) -> None:
        diff = self.settings_diff(value, "settings", self.stored.settings_of("global"))
        if value is not None and not diff:
            self.plan.unchanged += 1
        elif diff:
            change = Change("settings", "global", "update", "settings", ("global",), settings=diff)
            self.plan.changes.append(change)
