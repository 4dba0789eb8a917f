"""Nothing a person can type makes a 500: far dates, non-finite and huge numbers in JSON
fields, LIKE wildcards in search boxes, missing or tampered version fields. Each is a 422 at
the field (nothing saved) or a search for exactly what was typed."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from wtforms.fields.core import UnboundField

from tests import factories
from tests.blueprints.test_authorization import PUBLIC, access_level, build, routes
from tests.conftest import login
from webapp.extensions import db
from webapp.models import Credential, ParameterSet, Provider, User

HX = {"HX-Request": "true"}
ODD_JSON = [
    '{"temperature_boost": NaN}',
    '{"x": Infinity}',
    '{"x": -Infinity}',
    '{"x": 1e999}',
    '{"x": ' + "9" * 30 + "}",
    '{"x": ' + "9" * 5000 + "}",
    '{"x": ' + "[" * 5000 + "]" * 5000 + "}",
]
FAR_DATES = ["9999-12-31", "9999-01-01"]


def fresh(model: type, ident: int):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return db.session.get(model, ident)


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("day", FAR_DATES)
def test_a_key_expiring_in_the_year_9999_is_a_422_at_the_field(admin_client, day):
    openai = factories.provider("openai")
    prefix = f"add-{openai.id}-"
    response = admin_client.post(
        f"/admin/keys/providers/{openai.id}/keys",
        headers=HX,
        data={f"{prefix}secret": "sk-far-future-key-000000001", f"{prefix}expires_on": day},
    )
    assert response.status_code == 422
    assert "Choose a date before 9999" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Credential)) == 0


def test_editing_a_key_to_expire_in_9999_is_a_422(admin_client):
    key = factories.global_key("openai", "sk-edit-far-future-00000001")
    prefix = f"edit-{key.id}-"
    response = admin_client.post(
        f"/admin/keys/{key.id}",
        headers=HX,
        data={
            f"{prefix}label": "default",
            f"{prefix}expires_on": "9999-12-31",
            f"{prefix}version": str(key.version),
        },
    )
    assert response.status_code == 422
    assert fresh(Credential, key.id).expires_at is None


def test_a_personal_key_expiring_in_9999_is_a_422(member_client):
    openai = factories.provider("openai")
    prefix = f"add-{openai.id}-"
    response = member_client.post(
        f"/account/providers/{openai.id}/keys",
        headers=HX,
        data={f"{prefix}secret": "sk-member-far-future-0001", f"{prefix}expires_on": "9999-12-31"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01&until=9999-12-31",
        "since=9999-12-31",
        "until=0001-01-01",
        "since=10000-01-01&until=-5",
        "page=" + "9" * 40,
        "page=" + "9" * 400,
    ],
)
def test_audit_log_filters_accept_any_date(admin_client, query):
    assert admin_client.get(f"/admin/audit?{query}").status_code in (200, 422)


# --- JSON fields ---------------------------------------------------------------------------


def defaults_version() -> int:
    db.session.rollback()
    version = db.session.scalar(
        sa.select(ParameterSet.version).where(ParameterSet.scope == "global")
    )
    return version or 1


@pytest.mark.parametrize("text", ODD_JSON)
def test_odd_numbers_in_extra_options_are_a_422_at_the_field(admin_client, text):
    response = admin_client.post(
        "/admin/defaults",
        headers=HX,
        data={"settings-version": str(defaults_version()), "settings-extra_options": text},
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="settings-extra_options-error"' in body
    stored = db.session.scalar(
        sa.select(ParameterSet.extra_options).where(ParameterSet.scope == "global")
    )
    assert stored is None


@pytest.mark.parametrize("text", ODD_JSON)
def test_odd_json_in_provider_extra_headers_is_a_422_at_the_field(admin_client, text):
    mistral = factories.provider("mistral")
    data = {
        "display_name": "Mistral",
        "protocol": mistral.protocol,
        "base_url": mistral.base_url,
        "credit_multiplier": "1",
        "extra_headers": text.replace('"x"', '"X-Title"'),
        "version": str(mistral.version),
    }
    response = admin_client.post(f"/admin/providers/{mistral.id}", headers=HX, data=data)
    assert response.status_code == 422
    assert "Extra headers" in response.get_data(as_text=True)
    create = {**data, "slug": "acme-odd", "display_name": "Acme"}
    response = admin_client.post("/admin/providers", headers=HX, data=create)
    assert response.status_code == 422
    assert db.session.scalar(sa.select(Provider).where(Provider.slug == "acme-odd")) is None


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", "1e999", "9" * 30, "9" * 5000, "[" * 5000 + "]" * 5000]
)
def test_odd_numbers_in_an_imported_document_are_refused(admin_client, value):
    document = (
        '{"switchboard_config": 1, "settings": {"max_tokens": 100, "extra_options": {"x": '
        + value
        + "}}}"
    )
    for apply in ("0", "1"):
        response = admin_client.post(
            "/admin/config/import",
            headers=HX,
            data={"document": document, "format": "json", "apply": apply},
        )
        assert response.status_code == 422, response.get_data(as_text=True)[:500]
    assert defaults_version() == 1


# --- searches ------------------------------------------------------------------------------


def test_user_search_treats_percent_and_underscore_literally(admin_client):
    factories.make_user("a_b@example.com")
    factories.make_user("axb@example.com")
    factories.make_user("100%@example.com")
    body = admin_client.get("/admin/users?q=a_b").get_data(as_text=True)
    assert "a_b@example.com" in body and "axb@example.com" not in body
    body = admin_client.get("/admin/users?q=%25").get_data(as_text=True)
    assert "100%@example.com" in body and "axb@example.com" not in body


def test_catalog_search_treats_percent_and_underscore_literally(admin_client):
    factories.provider("openai")
    body = admin_client.get("/admin/models?q=gpt").get_data(as_text=True)
    assert "gpt-5.4-mini" in body
    for wildcard in ("%25", "_", "gpt%25mini", "gpt_5"):
        response = admin_client.get(f"/admin/models?q={wildcard}")
        assert response.status_code == 200
        assert "gpt-5.4-mini" not in response.get_data(as_text=True), wildcard


def test_audit_search_treats_percent_and_underscore_literally(admin_client, admin):
    factories.make_user("someone@example.com")  # an audited create by "system"
    for field in ("actor", "target"):
        for wildcard in ("%25", "_", "%25%25_"):
            response = admin_client.get(f"/admin/audit?{field}={wildcard}")
            assert response.status_code == 200
            assert "someone@example.com" not in response.get_data(as_text=True)


# --- fuzzing every form field ----------------------------------------------------------------

ODD_VALUES = ["NaN", "-Infinity", "9" * 400, "%_%", "9999-12-31", '{"a": NaN, "b": [[[1e999]]]}']


def form_field_names(app) -> set[str]:  # type: ignore[no-untyped-def]
    """Every field name of every form in the app (the settings editor's built per request)."""
    from flask_wtf import FlaskForm

    from webapp.views.settings_editor import settings_form_class

    classes, pending = set(), [FlaskForm]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        classes.add(cls)
    classes.add(settings_form_class())
    return {
        name
        for cls in classes
        for name in dir(cls)
        if isinstance(getattr(cls, name, None), UnboundField)
    }


def odd_payloads(app) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """Each field gets every odd value in one payload or another, under every prefix in use."""
    names = sorted(form_field_names(app))
    prefixes = ["", "settings-", "profile-", "feature-", "org-settings-"]
    prefixes += [f"add-{factories.provider('openai').id}-"]
    prefixes += [f"edit-{c.id}-" for c in db.session.scalars(sa.select(Credential))]
    prefixes += [f"user-{u.id}-" for u in db.session.scalars(sa.select(User))]
    return [
        {
            prefix + name: ODD_VALUES[(shift + n) % len(ODD_VALUES)]
            for n, name in enumerate(names)
            for prefix in prefixes
        }
        for shift in range(len(ODD_VALUES))
    ]


def test_odd_values_in_every_field_of_every_state_changing_route_never_make_a_500(
    app, admin_client: FlaskClient
):
    factories.global_key("openai", "sk-fuzz-target-key-0000001")
    payloads = odd_payloads(app)
    for rule in routes(app, "POST"):
        if access_level(rule) == PUBLIC or rule.endpoint in ("auth.logout",):
            continue
        url = build(app, rule)
        for payload in payloads:
            response = admin_client.post(url, data=payload, headers=HX)
            assert response.status_code < 500, f"POST {rule.rule}: {response.status_code}"


def test_a_member_typing_odd_values_gets_no_500_either(app, member, member_client):
    payloads = odd_payloads(app)
    for rule in routes(app, "POST"):
        if not rule.rule.startswith(("/account", "/settings", "/playground")):
            continue
        for payload in payloads:
            response = member_client.post(build(app, rule), data=payload, headers=HX)
            assert response.status_code < 500, f"POST {rule.rule}: {response.status_code}"


def test_odd_json_is_never_stored(app, admin_client):
    """After all of the above the stored JSON columns still hold standard JSON."""
    for text in ODD_JSON:
        admin_client.post(
            "/admin/defaults",
            data={"settings-version": str(defaults_version()), "settings-extra_options": text},
        )
    stored = db.session.scalars(sa.select(ParameterSet.extra_options)).all()
    for value in stored:
        json.dumps(value, allow_nan=False)


def test_signed_in_member_cannot_reach_admin_forms_with_odd_values(app, member):
    client = login(app.test_client(), member.email)
    response = client.post("/admin/defaults", data={"settings-extra_options": ODD_JSON[0]})
    assert response.status_code in (403, 404)


QUERY_NAMES = ("q", "actor", "target", "user_id", "org_id", "page", "since", "until", "edit")


def test_odd_values_in_query_strings_never_make_a_500(app, admin_client):
    from urllib.parse import urlencode

    for value in ODD_VALUES:
        query = "?" + urlencode({name: value for name in QUERY_NAMES})
        for rule in routes(app, "GET"):
            if access_level(rule) == PUBLIC:
                continue
            response = admin_client.get(build(app, rule) + query)
            assert response.status_code < 500, f"GET {rule.rule}?…={value[:10]}"
