"""The settings editor: one form for every layer (defaults, org, profile, feature).

Built from the field table in ``services/settings/fields.py`` so every layer edits the same
fields with the same ranges. An empty field means "inherit from the layer below".
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask_wtf import FlaskForm
from wtforms import FloatField, SelectField, TextAreaField
from wtforms.validators import NumberRange, Optional, ValidationError

from webapp import forms
from webapp.extensions import db
from webapp.forms import IntegerInput, VersionField, choices
from webapp.models import Feature, ParameterSet, Profile
from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.errors import Conflict, ServiceError
from webapp.services.errors import ValidationError as ServiceValidationError
from webapp.services.json_input import JSONInputError, parse_json
from webapp.services.settings import layers as settings_service
from webapp.services.settings import values as settings_values
from webapp.services.settings.fields import FIELDS, FieldSpec
from webapp.services.settings.resolution import EffectiveSettings, resolve
from webapp.views.conflicts import keep_typed

FALLBACK_SLOTS = settings_values.MAX_FALLBACKS
TRI_STATE = [("", "Inherit"), ("true", "Yes"), ("false", "No")]
SLIDERS = {"temperature": 0.05, "top_p": 0.01, "frequency_penalty": 0.05, "presence_penalty": 0.05}


def _json_object(form: FlaskForm, field: Any) -> None:
    if field.data and field.data.strip():
        try:
            value = parse_json(field.data)
        except JSONInputError as exc:
            raise ValidationError(str(exc)) from None
        if not isinstance(value, dict):
            raise ValidationError('Extra options must be a JSON object, like {"key": 1}.')


def _field(spec: FieldSpec, model_choices: list[tuple[str, str]]) -> Any:
    label, help_kw = spec.label, {"description": spec.help}
    if spec.kind == "model":
        return SelectField(
            label, choices=choices([("", "Inherit"), *model_choices]), default="", **help_kw
        )
    if spec.kind in ("float", "int"):
        cls = FloatField if spec.kind == "float" else IntegerInput
        render = {
            "min": spec.low,
            "max": spec.high,
            "step": SLIDERS.get(spec.name, "any" if spec.kind == "float" else 1),
        }
        if spec.name == "seed":
            render = {}
        return cls(
            label,
            validators=[Optional(), NumberRange(spec.low, spec.high)],
            render_kw=render,
            **help_kw,
        )
    if spec.kind == "bool":
        return SelectField(label, choices=choices(TRI_STATE), default="", **help_kw)
    if spec.kind == "choice":
        return SelectField(
            label,
            choices=choices([("", "Inherit")] + [(c, c) for c in spec.choices]),
            default="",
            **help_kw,
        )
    if spec.kind == "strings":
        return TextAreaField(label, description="One per line (at most 4).", render_kw={"rows": 2})
    if spec.kind == "json":
        return TextAreaField(label, validators=[_json_object], render_kw={"rows": 3}, **help_kw)
    raise AssertionError(spec.kind)


def settings_form_class() -> type[FlaskForm]:
    """A form class with one field per setting (and ordered fallback slots)."""
    models = [
        (m.global_id, f"{m.global_id} — {m.display_name}") for m in catalog_snapshot.usable_models()
    ]

    class SettingsForm(FlaskForm):
        version = VersionField()
        slider_names = tuple(SLIDERS)
        inherits: dict[str, tuple[Any, str]] = {}

        def fields_in_order(self) -> list[Any]:
            return [self[spec.name] for spec in FIELDS if spec.kind != "models"]

        def fallback_fields(self) -> list[Any]:
            return [self[f"fallback_{i}"] for i in range(1, FALLBACK_SLOTS + 1)]

        def values(self) -> dict[str, Any]:
            """The typed values for ``settings.update_settings`` (None = inherit)."""
            values: dict[str, Any] = {}
            for spec in FIELDS:
                if spec.kind == "models":
                    picked = [f.data for f in self.fallback_fields() if f.data]
                    values[spec.name] = picked or None
                    continue
                data = self[spec.name].data
                if spec.kind == "bool":
                    data = {"true": True, "false": False}.get(data or "")
                elif spec.kind == "strings":
                    data = [
                        line.strip() for line in (data or "").splitlines() if line.strip()
                    ] or None
                elif spec.kind == "json":
                    data = parse_json(data) if data and data.strip() else None
                values[spec.name] = data if data != "" else None
            return values

        def expected_version(self) -> int | None:
            return self.version.data

    for spec in FIELDS:
        if spec.kind == "models":
            for i in range(1, FALLBACK_SLOTS + 1):
                setattr(
                    SettingsForm,
                    f"fallback_{i}",
                    SelectField(f"Fallback {i}", choices=choices([("", "—"), *models]), default=""),
                )
        else:
            setattr(SettingsForm, spec.name, _field(spec, models))
    return SettingsForm


def _inherited_settings(pset: ParameterSet) -> EffectiveSettings | None:
    """What this layer's empty fields inherit: the layers under it, merged."""
    try:
        if pset.scope == "global":
            return resolve(below="global")
        if pset.scope == "org" and pset.org_id is not None:
            return resolve(below="org")
        if pset.scope == "profile" and pset.profile_id is not None:
            profile = db.session.get(Profile, pset.profile_id)
            return resolve(org_id=profile.org_id if profile else None, below="profile")
        if pset.scope == "feature" and pset.feature_id is not None:
            feature = db.session.get(Feature, pset.feature_id)
            if feature is not None:
                return resolve(org_id=feature.org_id, feature=feature.slug, below="feature")
    except ServiceError:  # e.g. a disabled feature: the editor simply shows no hints
        return None
    return None


def _shown(name: str, inherited: EffectiveSettings) -> str:
    value = inherited.values.get(name)
    if name == "model":
        return inherited.model.global_id
    if value is None:
        return "none" if name in ("stop", "seed", "extra_options") else "the provider's default"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def inherited_hints(pset: ParameterSet) -> dict[str, tuple[Any, str]]:
    """For every field: (the inherited value, for sliders; "Inherits X from Y.")."""
    inherited = _inherited_settings(pset)
    if inherited is None:
        return {}
    return {
        spec.name: (
            inherited.values.get(spec.name),
            f"Inherits {_shown(spec.name, inherited)} from "
            f"{inherited.sources[spec.name].label or 'the layer below'}.",
        )
        for spec in FIELDS
    }


def form_for(pset: ParameterSet, prefix: str = "settings", formdata: Any = None) -> Any:
    """The editor filled from ``pset`` (or from the posted ``formdata``), knowing what each
    empty field inherits (``form.inherits``)."""
    cls = settings_form_class()
    if formdata is not None:
        form = cls(formdata=formdata, prefix=prefix)
        form.inherits = inherited_hints(pset)
        return form
    stored = settings_service.as_form_values(pset)
    data: dict[str, Any] = {"version": pset.version}
    for spec in FIELDS:
        value = stored[spec.name]
        if spec.kind == "models":
            for i, global_id in enumerate(value or [], start=1):
                data[f"fallback_{i}"] = global_id
        elif spec.kind == "bool":
            data[spec.name] = "" if value is None else ("true" if value else "false")
        elif spec.kind == "strings":
            data[spec.name] = "\n".join(value or [])
        elif spec.kind == "json":
            data[spec.name] = json.dumps(value, indent=2) if value is not None else ""
        else:
            data[spec.name] = "" if value is None else value
    form = cls(formdata=None, prefix=prefix, data=data)
    form.inherits = inherited_hints(pset)
    return form


def attach_errors(form: Any, errors: dict[str, str]) -> None:
    """Put service errors at their field; fallback errors go to the first slot."""
    forms.attach_errors(form, errors, aliases={"fallback_models": "fallback_1"})


def save(pset: ParameterSet, form: Any, actor: Any, label: str) -> tuple[int, str | None, Any]:
    """Validate and save one layer. Returns (status, notice, form to render).

    On a conflict the returned form holds the CURRENT stored values and says what happened,
    so the second admin sees what the first one saved instead of silently overwriting it.
    """
    if not form.validate_on_submit():
        return 422, None, form
    try:
        settings_service.update_settings(
            actor, pset, form.values(), form.expected_version(), target_label=label
        )
    except ServiceValidationError as exc:
        attach_errors(form, exc.errors)
        return 422, None, form
    except Conflict as exc:
        db.session.rollback()
        if sa.inspect(pset).persistent:
            db.session.refresh(pset)
        else:  # created by this request and rolled back: nothing is saved for this layer
            pset = ParameterSet(scope=pset.scope, version=1)
        saved = form_for(pset, prefix=form._prefix.rstrip("-"))
        form.inherits = saved.inherits
        return 409, None, keep_typed(form, saved, exc.message)
    return 200, f"{label} saved.", form_for(pset, prefix=form._prefix.rstrip("-"))


def preview_values(form: Any) -> dict[str, Any]:
    """The form's values cleaned as they would be stored (raises ValidationError)."""
    return settings_values.clean(form.values())
