"""A save from a form someone else outdated (409) keeps what this admin typed, shows the value
saved meanwhile beside the field, and moves the form to the current version so that saving
again applies the typed values on purpose — on every versioned edit form.

Each case saves the same form twice from the version it was loaded at: the first save
("theirs") wins, the second ("mine") is the stale one.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import (
    Budget,
    CatalogModel,
    Credential,
    Feature,
    Organization,
    ParameterSet,
    Profile,
    Provider,
    User,
)
from webapp.services.billing import budgets

HX = {"HX-Request": "true"}
WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
# Every form class with a version field → the cases below that post it.
COVERED = {
    "BudgetEditForm": {"budget"},
    "CredentialEditForm": {"credential", "personal_key"},
    "FeatureEditForm": {"feature"},
    "ModelForm": {"model"},
    "OrgForm": {"org"},
    "ProviderEditForm": {"provider"},
    "SettingsForm": {"defaults", "org_settings", "feature_settings", "profile_settings"},
    "UserEditForm": {"user"},
}


@dataclass
class Case:
    url: str
    form: Callable[[str, int], dict[str, str]]  # (typed value, version) → the posted form
    version: Callable[[], int]  # the record's version now
    version_key: str  # the version field's name
    field: str  # the name of the field both admins type into
    values: tuple[str, str] = ("Theirs", "Mine")
    shown: Callable[[str], str] = str  # a value as the field shows it (a choice's label)


def _now(model: type, ident: int) -> int:
    db.session.rollback()
    return int(db.session.get(model, ident).version)


def _settings_version(scope: str, **owner: int) -> Callable[[], int]:
    def version() -> int:
        db.session.rollback()
        query = sa.select(ParameterSet.version).where(ParameterSet.scope == scope)
        for column, value in owner.items():
            query = query.where(getattr(ParameterSet, column) == value)
        return db.session.scalar(query) or 1

    return version


def _settings_case(url: str, prefix: str, version: Callable[[], int]) -> Case:
    return Case(
        url=url,
        form=lambda value, v: {f"{prefix}-version": str(v), f"{prefix}-temperature": value},
        version=version,
        version_key=f"{prefix}-version",
        field=f"{prefix}-temperature",
        values=("0.3", "0.7"),
    )


def _admin() -> User:
    return db.session.scalar(sa.select(User).where(User.role == "admin"))


def _cases() -> dict[str, Callable[[], Case]]:
    def provider() -> Case:
        p = factories.provider("mistral")
        return Case(
            url=f"/admin/providers/{p.id}",
            form=lambda value, v: {
                "display_name": value,
                "protocol": p.protocol,
                "base_url": p.base_url or "",
                "api_key_env": p.api_key_env or "",
                "credit_multiplier": "1",
                "enabled": "y",
                "version": str(v),
            },
            version=lambda: _now(Provider, p.id),
            version_key="version",
            field="display_name",
        )

    def model() -> Case:
        m = factories.model("mistral/mistral-large-4")
        return Case(
            url=f"/admin/models/{m.id}",
            form=lambda value, v: {
                "display_name": value,
                "category": m.category,
                "enabled": "y",
                "supports_streaming": "y",
                "version": str(v),
            },
            version=lambda: _now(CatalogModel, m.id),
            version_key="version",
            field="display_name",
        )

    def credential() -> Case:
        key = factories.global_key("openai", "sk-stale-save-global-0001")
        prefix = f"edit-{key.id}-"
        return Case(
            url=f"/admin/keys/{key.id}",
            form=lambda value, v: {f"{prefix}label": value, f"{prefix}version": str(v)},
            version=lambda: _now(Credential, key.id),
            version_key=f"{prefix}version",
            field=f"{prefix}label",
        )

    def personal_key() -> Case:
        key = factories.user_key(_admin(), "openai", "sk-stale-save-personal-01")
        prefix = f"edit-{key.id}-"
        return Case(
            url=f"/account/keys/{key.id}",
            form=lambda value, v: {f"{prefix}label": value, f"{prefix}version": str(v)},
            version=lambda: _now(Credential, key.id),
            version_key=f"{prefix}version",
            field=f"{prefix}label",
        )

    def user() -> Case:
        u = factories.make_user("stale@example.com")
        prefix = f"user-{u.id}-"
        return Case(
            url=f"/admin/users/{u.id}",
            form=lambda value, v: {
                f"{prefix}role": "member",
                f"{prefix}mode": value,
                f"{prefix}active": "active",
                f"{prefix}version": str(v),
            },
            version=lambda: _now(User, u.id),
            version_key=f"{prefix}version",
            field=f"{prefix}mode",
            values=("byok", "managed"),
            shown=lambda value: {"byok": "Bring your own key", "managed": "Managed"}[value],
        )

    def org() -> Case:
        o = factories.make_org("acme")
        return Case(
            url=f"/admin/orgs/{o.id}",
            form=lambda value, v: {"name": value, "version": str(v)},
            version=lambda: _now(Organization, o.id),
            version_key="version",
            field="name",
        )

    def feature() -> Case:
        from webapp.services.settings import features

        f = features.create_feature(_admin(), None, "summarize", "Summarize")
        return Case(
            url=f"/admin/features/{f.id}",
            form=lambda value, v: {"name": value, "enabled": "y", "version": str(v)},
            version=lambda: _now(Feature, f.id),
            version_key="version",
            field="name",
        )

    def budget() -> Case:
        b = budgets.create_budget(
            _admin(),
            budgets.BudgetOwner("user", _admin().id),
            budgets.BudgetInput(period="daily", unit="credits", amount="10"),
        )
        prefix = f"budget-{b.id}-"
        return Case(
            url=f"/admin/billing/budgets/{b.id}",
            form=lambda value, v: {
                f"{prefix}period": "daily",
                f"{prefix}unit": "credits",
                f"{prefix}amount": value,
                f"{prefix}enforcement": "hard",
                f"{prefix}thresholds": "",
                f"{prefix}version": str(v),
            },
            version=lambda: _now(Budget, b.id),
            version_key=f"{prefix}version",
            field=f"{prefix}amount",
            values=("20", "30"),
        )

    def defaults() -> Case:
        return _settings_case("/admin/defaults", "settings", _settings_version("global"))

    def org_settings() -> Case:
        o = factories.make_org("acme")
        version = _settings_version("org", org_id=o.id)
        return _settings_case(f"/admin/orgs/{o.id}/settings", "org-settings", version)

    def feature_settings() -> Case:
        from webapp.services.settings import features

        f = features.create_feature(_admin(), None, "summarize", "Summarize")
        version = _settings_version("feature", feature_id=f.id)
        return _settings_case(f"/admin/features/{f.id}/settings", "feature", version)

    def profile_settings() -> Case:
        p = db.session.scalar(sa.select(Profile).where(Profile.org_id.is_(None)).limit(1))
        version = _settings_version("profile", profile_id=p.id)
        return _settings_case(f"/admin/features/profiles/{p.id}", "profile", version)

    return {
        "provider": provider,
        "model": model,
        "credential": credential,
        "personal_key": personal_key,
        "user": user,
        "org": org,
        "feature": feature,
        "budget": budget,
        "defaults": defaults,
        "org_settings": org_settings,
        "feature_settings": feature_settings,
        "profile_settings": profile_settings,
    }


def _typed(body: str, name: str) -> str | None:
    """What the form now holds in field ``name``: an input's value or the selected option."""
    tag = re.search(rf'<(input|select)[^>]*name="{re.escape(name)}"[^>]*>', body)
    if tag is None:
        return None
    if tag.group(1) == "select":
        rest = body[tag.end() :].split("</select>", 1)[0]
        found = re.search(r'<option selected value="([^"]*)"', rest)
    else:
        found = re.search(r'value="([^"]*)"', tag.group(0))
    return found.group(1) if found else None


def _same(a: str | None, b: str) -> bool:
    try:
        return Decimal(a or "") == Decimal(b)
    except ArithmeticError:
        return a == b


@pytest.mark.parametrize("name", sorted(_cases()))
def test_a_stale_save_keeps_the_typed_values_and_shows_the_saved_ones(admin_client, name):
    case = _cases()[name]()
    loaded = case.version()
    theirs, mine = case.values
    first = admin_client.post(case.url, headers=HX, data=case.form(theirs, loaded))
    assert first.status_code == 200, first.get_data(as_text=True)[:500]
    current = case.version()
    assert current != loaded
    stale = admin_client.post(case.url, headers=HX, data=case.form(mine, loaded))
    body = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert _same(_typed(body, case.field), mine), "what was typed is lost"
    assert f"Saved meanwhile by someone else: <code>{case.shown(theirs)}</code>" in body
    assert "Your values are kept" in body
    assert _typed(body, case.version_key) == str(current), "the version did not move"
    # Saving again, from the form as answered, applies the typed values.
    again = admin_client.post(case.url, headers=HX, data=case.form(mine, current))
    assert again.status_code == 200


def test_every_versioned_form_is_covered() -> None:
    """A new form with a version field needs its case above (and keep_typed in its view)."""
    found = set()
    for path in WEBAPP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(item, ast.Assign)
                and isinstance(item.value, ast.Call)
                and getattr(item.value.func, "id", "") == "VersionField"
                for item in node.body
            ):
                found.add(node.name)
    assert found == set(COVERED)
    assert set().union(*COVERED.values()) == set(_cases())
