"""Plan a configuration import: check the whole document (every error with its path) and
diff it field by field against the database, writing nothing (``config_apply`` writes).

Records are matched by slug (providers, orgs), provider + model id, and (org, name or slug)
for profiles and features. Missing records are created and changed fields updated; records
and fields the document leaves out are left alone (nothing is ever deleted).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webapp.models import Provider
from webapp.services.accounts.orgs import check_org
from webapp.services.accounts.schemas import ORG_FIELDS
from webapp.services.audit import events as audit
from webapp.services.catalog.editing import check_model
from webapp.services.catalog.providers import check_provider
from webapp.services.catalog.schemas import MODEL_FIELDS, PROVIDER_FIELDS
from webapp.services.config.document import (
    FORMAT_KEY,
    FORMAT_VERSION,
    MISSING,
    Change,
    ImportPlan,
    Issue,
    Reader,
    model_name,
    slug,
)
from webapp.services.config.export import (
    FEATURE_DOCUMENT_FIELDS,
    FEATURE_DOCUMENT_NAMES,
    FEATURE_KEYS,
    MODEL_KEYS,
    ORG_KEYS,
    PROFILE_KEYS,
    PROVIDER_KEYS,
    TOP_KEYS,
    feature_fields,
    load_stored,
    model_record,
    org_fields,
    profile_fields,
    provider_record,
)
from webapp.services.config.references import SettingsPlanner
from webapp.services.credentials import url_guard
from webapp.services.credentials.confirmation import url_change_impact
from webapp.services.errors import ValidationError
from webapp.services.settings.features import check_feature
from webapp.services.settings.profiles import check_profile
from webapp.services.settings.schemas import PROFILE_FIELDS
from webapp.services.settings.values import OrgPolicy

SCHEMA_NAMES = {doc: name for name, doc in FEATURE_DOCUMENT_NAMES.items()}


def _document_names(values: dict[str, Any]) -> dict[str, Any]:
    """A feature's fields (or errors) named as in the document (``profile``)."""
    return {FEATURE_DOCUMENT_NAMES.get(k, k): v for k, v in values.items()}


class _Planner(SettingsPlanner):
    """Walks the document once, comparing each record with the stored one."""

    def __init__(self, resolver: url_guard.Resolver) -> None:
        self.plan = ImportPlan()
        self.issues = self.plan.errors
        self.stored = load_stored()
        self.resolver = resolver
        self.allowed_hosts: set[str] | None = None  # read when a base URL changes
        # The catalog and profiles as they will be after the import, for references.
        self.providers = {s: provider_record(p) for s, p in self.stored.providers.items()}
        self.models = {f"{s}/{m}": model_record(r) for (s, m), r in self.stored.models.items()}
        self.profiles = set(self.stored.profiles)
        self.model_paths: dict[str, str] = {}
        self.orgs: dict[str, OrgPolicy | None] = {}  # slug -> what it allows after the import
        self.seen: set[tuple[Any, ...]] = set()

    def first(self, ident: tuple[Any, ...], reader: Reader) -> bool:
        """False (with an error) when the document already had this record."""
        if ident in self.seen:
            reader.error("", "repeats a record that appears earlier in the document.")
            return False
        self.seen.add(ident)
        return True

    def record(
        self,
        change: Change,
        current: dict[str, Any] | None,
        desired: dict[str, Any],
        defaults: dict[str, Any],
        order: tuple[str, ...],
    ) -> None:
        """Keep ``change`` when the document differs from ``current`` (None = create)."""
        if current is None:
            merged = {**change.values, **defaults, **desired}
            change.values = {name: merged[name] for name in order if name in merged}
            change.fields = {  # in the document's order
                name: {"before": None, "after": value}
                for name, value in change.values.items()
                if value is not None
            }
        else:
            change.action = "update"
            change.fields = audit.diff({k: current[k] for k in desired}, desired)
            change.values = {name: diff["after"] for name, diff in change.fields.items()}
            if not change.fields and not change.settings:
                self.plan.unchanged += 1
                return
        self.plan.changes.append(change)

    def checked(
        self,
        reader: Reader,
        fields: tuple[str, ...],
        current: dict[str, Any] | None,
        check: Callable[[dict[str, Any]], dict[str, Any]],
        start: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Check the record as it would be after the import (what the document sets over what
        is stored) with the record's own service rules, the forms' rules too.

        Returns the document's fields in document form and the whole record as the service
        checked it, or None with every problem recorded at ``path.field``."""
        given = {name: reader.data[name] for name in fields if name in reader.data}
        try:
            stored = {name: value for name, value in (current or {}).items() if name in fields}
            typed = check({**(start or {}), **stored, **given})
        except ValidationError as exc:
            for name, message in exc.errors.items():
                reader.error(name, message[:1].lower() + message[1:])
            return None
        document = {name: audit.jsonable(typed[name]) for name in fields if name in typed}
        return {name: document[name] for name in given}, typed

    def paused_keys(self, reader: Reader, row: Any, state: dict[str, Any]) -> None:
        """Say which keys a new address (or fallback-key variable) pauses: keys never follow
        a changed URL on their own, and the fallback key never sends another variable."""
        impact = url_change_impact(
            row, state.get("base_url"), state.get("protocol") or "", state.get("api_key_env") or ""
        )
        if not impact.total:
            return
        if impact.env_variable_changed and impact.total == 1:
            path = f"{reader.path}.api_key_env"
            message = (
                f"{impact.env_key} has not been confirmed for {impact.new_host}: the fallback "
                "key stays paused until an admin confirms it on the Keys page."
            )
        else:
            path = f"{reader.path}.base_url"
            message = (
                f"the new address {impact.new_host} pauses {impact.summary()} until someone "
                "who may manage them re-enters or confirms them."
            )
        self.plan.notes.append(Issue(path, message))

    def providers_section(self, items: list[Any]) -> None:
        for index, item in enumerate(items):
            reader = Reader(item, f"providers[{index}]", PROVIDER_KEYS, self.issues)
            key = reader.get("slug", slug, required=True)
            if key is MISSING or not self.first(("provider", key), reader):
                continue
            row = self.stored.providers.get(key)
            current = provider_record(row) if row else None

            def check(data: dict[str, Any], row: Provider | None = row, key: str = key) -> Any:
                data = data if row is not None else {**data, "slug": key}
                return check_provider(data, row, resolver=self.resolver)

            found = self.checked(reader, PROVIDER_FIELDS, current, check)
            self.providers[key] = {"enabled": True, **(current or {}), "slug": key}
            if found is None:
                continue
            desired, typed = found
            full = {name: audit.jsonable(typed[name]) for name in PROVIDER_FIELDS}
            state = self.providers[key] = {**full, "slug": key}
            if row is not None:
                self.paused_keys(reader, row, state)
            change = Change("provider", key, "create", reader.path, (key,), values={"slug": key})
            change.typed = typed
            self.record(change, current, desired, full, PROVIDER_KEYS)

    def models_section(self, items: list[Any]) -> None:
        for index, item in enumerate(items):
            reader = Reader(item, f"models[{index}]", MODEL_KEYS, self.issues)
            provider = reader.get("provider", slug, required=True)
            model_id = reader.get("model_id", model_name, required=True)
            if provider is MISSING or model_id is MISSING:
                continue
            if provider not in self.providers:
                reader.error("provider", f"there is no provider {provider!r}.")
                continue
            key, ident = f"{provider}/{model_id}", (provider, model_id)
            if not self.first(("model", key), reader):
                continue
            row = self.stored.models.get(ident)
            current = model_record(row) if row else None
            identity_fields = {"provider": provider, "model_id": model_id}

            def check(data: dict[str, Any], row: Any = row, new: Any = identity_fields) -> Any:
                if row is not None:
                    return check_model(data, row)
                return check_model({**data, **new}, known_providers=self.providers)

            start = {"display_name": model_id}
            found = self.checked(reader, MODEL_FIELDS, current, check, start)
            if found is None:
                continue
            desired, typed = found
            full = {name: audit.jsonable(typed[name]) for name in MODEL_FIELDS}
            self.models[key] = {**full, "provider": provider}
            self.model_paths[key] = reader.path
            change = Change("model", key, "create", reader.path, ident, values=identity_fields)
            change.typed = typed
            self.record(change, current, desired, full, MODEL_KEYS)

    def profile_names(self, org: str | None, extra: set[str] | None = None) -> set[str]:
        """Names a record of ``org`` may use: its profiles and the global ones, stored or in
        the document."""
        return {name for owner, name in self.profiles if owner in (org, None)} | (extra or set())

    def profiles_section(self, items: list[Any], path: str, org: str | None) -> None:
        for index, item in enumerate(items):
            reader = Reader(item, f"{path}[{index}]", PROFILE_KEYS, self.issues)
            name = reader.get("name", slug, required=True)
            if name is MISSING or not self.first(("profile", org, name), reader):
                continue
            row = self.stored.profiles.get((org, name))
            current = profile_fields(row) if row else None
            self.profiles.add((org, name))

            def check(data: dict[str, Any], row: Any = row, name: str = name) -> Any:
                data = data if row is not None else {**data, "name": name}
                return check_profile(data, row, None, check_unique=False)

            change = Change(
                "profile",
                f"{org or 'global'}/{name}",
                "create",
                reader.path,
                (org, name),
                settings=self.layer_diff(reader, "profile", row, self.org_policy(org)),
                values={"name": name},
            )
            self.typed_record(reader, change, current, check, PROFILE_FIELDS, PROFILE_KEYS)

    def typed_record(
        self,
        reader: Reader,
        change: Change,
        current: dict[str, Any] | None,
        check: Callable[[dict[str, Any]], dict[str, Any]],
        fields: tuple[str, ...],
        keys: tuple[str, ...],
    ) -> None:
        """Check a record through its service and keep its change when it has one."""
        found = self.checked(reader, fields, current, check)
        if found is not None:
            self.keep(change, current, found, fields, keys)

    def keep(
        self,
        change: Change,
        current: dict[str, Any] | None,
        found: tuple[dict[str, Any], dict[str, Any]],
        fields: tuple[str, ...],
        keys: tuple[str, ...],
    ) -> None:
        """Keep a checked record's change (``checked``'s result) when it has one."""
        desired, change.typed = found
        full = {name: audit.jsonable(change.typed[name]) for name in fields}
        self.record(change, current, desired, full, keys)

    def org_policy(self, org: str | None) -> OrgPolicy | None:
        """What the owning org allows after the import (None: a global record)."""
        return self.orgs.get(org) if org is not None else None

    def features_section(self, items: list[Any], path: str, org: str | None) -> None:
        for index, item in enumerate(items):
            reader = Reader(item, f"{path}[{index}]", FEATURE_KEYS, self.issues)
            key = reader.get("slug", slug, required=True)
            if key is MISSING or not self.first(("feature", org, key), reader):
                continue
            row = self.stored.features.get((org, key))
            current = feature_fields(row) if row else None
            known = self.profile_names(org)

            def check(data: dict[str, Any], row: Any = row, key: str = key, known=known) -> Any:
                data = {SCHEMA_NAMES.get(k, k): v for k, v in data.items()}
                data = data if row is not None else {**data, "slug": key}
                try:
                    values = check_feature(data, row, None, profiles=known, check_unique=False)
                except ValidationError as exc:
                    raise ValidationError(_document_names(exc.errors)) from None
                return _document_names(values)

            change = Change(
                "feature",
                f"{org or 'global'}/{key}",
                "create",
                reader.path,
                (org, key),
                settings=self.layer_diff(reader, "feature", row, self.org_policy(org)),
                values={"slug": key},
            )
            self.typed_record(reader, change, current, check, FEATURE_DOCUMENT_FIELDS, FEATURE_KEYS)

    def orgs_section(self, items: list[Any]) -> None:
        for index, item in enumerate(items):
            reader = Reader(item, f"orgs[{index}]", ORG_KEYS, self.issues)
            key = reader.get("slug", slug, required=True)
            if key is MISSING or not self.first(("org", key), reader):
                continue
            row = self.stored.orgs.get(key)
            current = org_fields(row) if row else None
            own = [p.get("name") for p in reader.items("profiles") if isinstance(p, dict)]
            known = self.profile_names(key, {n for n in own if isinstance(n, str)})

            def check(data: dict[str, Any], row: Any = row, key: str = key, known=known) -> Any:
                data = data if row is not None else {**data, "slug": key}
                return check_org(data, row, models=self.models, profiles=known)

            found = self.checked(reader, ORG_FIELDS, current, check)
            self.orgs[key] = _policy(found[1] if found else current)
            change = Change(
                "organization",
                key,
                "create",
                reader.path,
                (key,),
                settings=self.layer_diff(reader, "org", row, self.orgs[key]),
                values={"slug": key},
            )
            if found is not None:
                self.keep(change, current, found, ORG_FIELDS, ORG_KEYS)
            self.profiles_section(reader.items("profiles"), f"{reader.path}.profiles", key)
            self.features_section(reader.items("features"), f"{reader.path}.features", key)


def _policy(org: dict[str, Any] | None) -> OrgPolicy | None:
    """An org's name and allowed models, as checked (or stored, when the document's are
    wrong and already reported)."""
    if org is None:
        return None
    return OrgPolicy(org["name"], org.get("allowed_models") or ())


def plan_import(
    document: Any, *, resolver: url_guard.Resolver = url_guard.system_resolver
) -> ImportPlan:
    """What importing ``document`` would change, and every error; reads only, writes nothing."""
    version = document.get(FORMAT_KEY) if isinstance(document, dict) else None
    if isinstance(version, bool) or version != FORMAT_VERSION:
        message = f"must be {FORMAT_VERSION}: this is not a Switchboard configuration document"
        if isinstance(version, int) and not isinstance(version, bool):
            message = f"version {version} is not supported (this Switchboard reads version 1)"
        return ImportPlan(errors=[Issue(FORMAT_KEY, message + ".")])
    planner = _Planner(resolver)
    top = Reader(document, "", TOP_KEYS, planner.issues)
    planner.providers_section(top.items("providers"))
    planner.models_section(top.items("models"))
    planner.defaults_section(document.get("defaults"))
    planner.global_settings(document.get("settings"))
    planner.profiles_section(top.items("profiles"), "profiles", None)
    planner.features_section(top.items("features"), "features", None)
    planner.orgs_section(top.items("orgs"))
    return planner.plan
