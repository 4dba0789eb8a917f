"""Every edit form carries the version it was loaded at, and a save without a valid one is a
422 at that field that saves nothing, never a save that skips the concurrency check."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from tests import factories
from tests.security.test_no_500_for_odd_input import HX, defaults_version, fresh
from webapp.extensions import db
from webapp.models import Credential, ParameterSet, Provider, User

BAD_VERSIONS = [None, "", "abc", "-1", "9" * 5000]


Case = tuple[str, dict[str, str], str, Callable[[], object]]


def _edit_cases() -> dict[str, Callable[[], Case]]:
    """For each edit form: its URL, valid data but the version, the version field's name,
    and a look at what a save would change."""

    def provider() -> Case:
        p = factories.provider("mistral")
        data = {"display_name": "Renamed", "protocol": p.protocol, "base_url": p.base_url}
        return f"/admin/providers/{p.id}", data, "version", lambda: fresh(Provider, p.id).version

    def model() -> Case:
        m = factories.model("mistral/mistral-large-4")
        data = {"display_name": "Renamed", "category": m.category, "enabled": "y"}
        return f"/admin/models/{m.id}", data, "version", lambda: fresh(type(m), m.id).version

    def defaults() -> Case:
        data = {"settings-temperature": "0.3"}
        return "/admin/defaults", data, "settings-version", defaults_version

    def credential() -> Case:
        key = factories.global_key("openai", "sk-version-test-00000001")
        url, prefix = f"/admin/keys/{key.id}", f"edit-{key.id}-"
        return url, {f"{prefix}label": "renamed"}, f"{prefix}version", lambda: key_version(key)

    def personal_key() -> Case:
        key = factories.user_key(
            db.session.scalar(sa.select(User).where(User.role == "admin")),
            "openai",
            "sk-personal-version-test-01",
        )
        url, prefix = f"/account/keys/{key.id}", f"edit-{key.id}-"
        return url, {f"{prefix}label": "renamed"}, f"{prefix}version", lambda: key_version(key)

    def user() -> Case:
        u = factories.make_user("versioned@example.com")
        prefix = f"user-{u.id}-"
        data = {f"{prefix}role": "admin", f"{prefix}mode": "managed", f"{prefix}active": "active"}
        return f"/admin/users/{u.id}", data, f"{prefix}version", lambda: fresh(User, u.id).role

    def org() -> Case:
        o = factories.make_org("acme")
        observe = lambda: fresh(type(o), o.id).version  # noqa: E731
        return f"/admin/orgs/{o.id}", {"name": "Renamed"}, "version", observe

    def org_settings() -> Case:
        o = factories.make_org("acme")
        data = {"org-settings-temperature": "0.3"}
        return f"/admin/orgs/{o.id}/settings", data, "org-settings-version", settings_count

    def feature() -> Case:
        from webapp.services.settings import features

        admin = db.session.scalar(sa.select(User).where(User.role == "admin"))
        f = features.create_feature(admin, None, "summarize", "Summarize")
        observe = lambda: fresh(type(f), f.id).version  # noqa: E731
        return f"/admin/features/{f.id}", {"name": "Renamed"}, "version", observe

    return {
        "provider": provider,
        "model": model,
        "defaults": defaults,
        "credential": credential,
        "personal_key": personal_key,
        "user": user,
        "org": org,
        "org_settings": org_settings,
        "feature": feature,
    }


def key_version(key: Credential) -> int:
    return fresh(Credential, key.id).version


def settings_count() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(ParameterSet)) or 0


@pytest.mark.parametrize("case", sorted(_edit_cases()))
@pytest.mark.parametrize("version", BAD_VERSIONS, ids=lambda v: repr(v)[:12])
def test_an_edit_without_a_valid_version_is_a_422_and_saves_nothing(admin_client, case, version):
    url, data, version_key, observe = _edit_cases()[case]()
    before = observe()
    if version is not None:
        data = {**data, version_key: version}
    response = admin_client.post(url, headers=HX, data=data)
    assert response.status_code == 422, response.status_code
    assert "out of date" in response.get_data(as_text=True)
    assert observe() == before
