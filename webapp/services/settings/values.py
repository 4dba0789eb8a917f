"""A settings layer's values: each field against SPEC's ranges, model references against the
catalog, and the owning organization's allowed models. One set of rules for every path that
writes a layer — the editors, the API, config import and the seed — so none accepts what
another refuses."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.errors import ValidationError
from webapp.services.json_input import JSONInputError, check_value
from webapp.services.settings.fields import BY_NAME, FieldSpec

MAX_STOP, MAX_FALLBACKS, MAX_EXTRA_BYTES = 4, 5, 10_000
RESERVED_EXTRA = {"model", "messages", "stream", "api_key", "tools", "system"}


@dataclass(frozen=True)
class ModelRef:
    """A catalog model as a layer may name it."""

    global_id: str
    usable: bool  # enabled, and so is its provider


# A global id -> the model it names, or None when the catalog has none. The stored catalog
# by default; config import passes the catalog as it will be after the import.
Catalog = Callable[[str], ModelRef | None]


def stored_catalog(global_id: str) -> ModelRef | None:
    info = catalog_snapshot.model_by_global_id(global_id)
    return None if info is None else ModelRef(info.global_id, info.usable)


@dataclass(frozen=True)
class OrgPolicy:
    """The organization a layer belongs to (its own, its profiles' and features'): its
    settings may only name the models it allows."""

    name: str
    allowed: Collection[str]  # empty: every model


def check_number(spec: FieldSpec, value: Any) -> float | int:
    """A finite number of the field's kind (no range check). Huge ints never reach floats."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError({spec.name: f"{spec.label} must be a number."})
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError({spec.name: f"{spec.label} must be a number."})
    if spec.kind == "int" and isinstance(value, float):
        if not value.is_integer():
            raise ValidationError({spec.name: f"{spec.label} must be a whole number."})
        value = int(value)
    return value


def _number(spec: FieldSpec, value: Any, catalog: Catalog) -> float | int:
    value = check_number(spec, value)
    assert spec.low is not None and spec.high is not None  # every numeric field has both
    if not spec.low <= value <= spec.high:
        raise ValidationError(
            {spec.name: f"{spec.label} must be between {spec.low:g} and {spec.high:g}."}
        )
    return int(value) if spec.kind == "int" else float(value)


def _bool(spec: FieldSpec, value: Any, catalog: Catalog) -> bool:
    if not isinstance(value, bool):
        raise ValidationError({spec.name: f"{spec.label} must be true or false."})
    return value


def _choice(spec: FieldSpec, value: Any, catalog: Catalog) -> str:
    if value not in spec.choices:
        raise ValidationError(
            {spec.name: f"{spec.label} must be one of {', '.join(spec.choices)}."}
        )
    return str(value)


def _ref(spec: FieldSpec, value: Any, catalog: Catalog) -> ModelRef:
    ref = catalog(str(value).strip())
    if ref is None:
        raise ValidationError({spec.name: f"{str(value)!r} is not in the model catalog."})
    return ref


def _model(spec: FieldSpec, value: Any, catalog: Catalog) -> str:
    ref = _ref(spec, value, catalog)
    if not ref.usable:
        raise ValidationError({spec.name: f"{ref.global_id} is disabled; choose an enabled model."})
    return ref.global_id


def _strings(spec: FieldSpec, value: Any, catalog: Catalog) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise ValidationError({spec.name: "Give a list of non-empty strings."})
    if len(items) > MAX_STOP or any(len(v) > 100 for v in items):
        raise ValidationError({spec.name: f"At most {MAX_STOP} stop sequences of 100 characters."})
    return items


def _models(spec: FieldSpec, value: Any, catalog: Catalog) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({spec.name: "Give a list of provider/model ids."})
    if len(value) > MAX_FALLBACKS or len(set(value)) != len(value):
        raise ValidationError({spec.name: f"At most {MAX_FALLBACKS} different fallback models."})
    return [_ref(spec, global_id, catalog).global_id for global_id in value]


def _json(spec: FieldSpec, value: Any, catalog: Catalog) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError({spec.name: "Extra options must be a JSON object."})
    try:
        check_value(value)  # NaN, infinity, huge numbers: no provider (or PostgreSQL) takes them
    except JSONInputError as exc:
        raise ValidationError({spec.name: f"Extra options: {exc}"}) from None
    if reserved := RESERVED_EXTRA & set(value):
        raise ValidationError(
            {spec.name: f"Extra options cannot set {', '.join(sorted(reserved))}."}
        )
    if len(json.dumps(value)) > MAX_EXTRA_BYTES:
        raise ValidationError({spec.name: "Extra options are limited to 10 kB."})
    return value


CHECKS: dict[str, Callable[[FieldSpec, Any, Catalog], Any]] = {
    "float": _number,
    "int": _number,
    "bool": _bool,
    "choice": _choice,
    "model": _model,
    "strings": _strings,
    "models": _models,
    "json": _json,
}


def check_field(name: str, value: Any, catalog: Catalog = stored_catalog) -> Any:
    """One field's value as a form shows it (a model by its global id), or a
    ValidationError naming the field. None (or "") = inherit."""
    spec = BY_NAME.get(name)
    if spec is None:
        raise ValidationError({name: f"Unknown setting {name!r}."})
    if value is None or value == "":
        return None
    return CHECKS[spec.kind](spec, value, catalog)


def _org_errors(org: OrgPolicy, values: Mapping[str, Any]) -> dict[str, str]:
    """Models the org does not allow, among values that passed their own checks."""
    if not org.allowed:
        return {}
    errors = {}
    model = values.get("model")
    if model is not None and model not in org.allowed:
        errors["model"] = f"{org.name} does not allow {model}."
    outside = [m for m in values.get("fallback_models") or [] if m not in org.allowed]
    if outside:
        errors["fallback_models"] = f"{org.name} does not allow {', '.join(outside)}."
    return errors


def check_settings(
    values: Mapping[str, Any],
    *,
    org: OrgPolicy | None = None,
    catalog: Catalog = stored_catalog,
) -> dict[str, Any]:
    """A layer's given fields as a form shows them, or a ValidationError with every field's
    message: each field's own rules, then what its organization allows."""
    checked, errors = {}, {}
    for name, value in values.items():
        try:
            checked[name] = check_field(name, value, catalog)
        except ValidationError as exc:
            errors.update(exc.errors)
    if org is not None:
        errors.update(_org_errors(org, checked))
    if errors:
        raise ValidationError(errors)
    return checked


def _stored(name: str, value: Any) -> Any:
    """A checked value as a column holds it: a model by its catalog id."""
    if value is None or BY_NAME[name].kind != "model":
        return value
    info = catalog_snapshot.model_by_global_id(value)
    assert info is not None  # checked against this catalog a moment ago
    return info.id


def clean_value(name: str, value: Any) -> Any:
    """One field's value as stored (a model by its id), e.g. a call's override."""
    return _stored(name, check_field(name, value))


def clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every field as stored, all errors at once (a preview of unsaved values)."""
    return {name: _stored(name, value) for name, value in check_settings(values).items()}
