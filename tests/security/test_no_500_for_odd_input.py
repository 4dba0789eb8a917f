"""Nothing a person can type makes a 500: far dates, non-finite and huge numbers in JSON
fields and in amounts, prices and budgets, LIKE wildcards in search boxes, missing or
tampered version fields. Each is a 422 at the field (nothing saved) or a search for exactly
what was typed."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from wtforms.fields.core import UnboundField

from tests import factories
from tests.api.conftest import token_for
from tests.blueprints.test_authorization import PUBLIC, access_level, build, routes
from tests.conftest import login
from tests.gateway.support import make_token
from tests.security import fuzzing
from webapp.extensions import db
from webapp.models import (
    Budget,
    CatalogModel,
    Credential,
    CreditEntry,
    Organization,
    ParameterSet,
    Provider,
    User,
)
from webapp.services.accounts import invitations
from webapp.services.billing import budgets
from webapp.services.numbers import NumberError, parse_decimal
from webapp.services.settings import features, profiles

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


FAR_RANGES = [
    ("9999-12-30", "9999-12-31"),  # the end of the range + 1 day overflowed
    ("0001-01-01", "0001-01-02"),
    ("1999-12-31", "2000-01-01"),
    ("9998-12-31", "9999-01-01"),
]
USAGE_PAGES = ["/usage", "/admin/usage", "/admin/usage/records", "/admin/usage/export.csv"]
USAGE_API = ["usage/summary", "usage/records", "usage/records.csv"]


@pytest.mark.parametrize(("since", "until"), FAR_RANGES)
def test_a_custom_usage_range_out_of_the_calendar_is_a_422_everywhere(
    app, admin, admin_client, since, until
):
    query = f"?period=custom&since={since}&until={until}"
    for page in USAGE_PAGES:
        response = admin_client.get(page + query, headers=HX)
        assert response.status_code == 422, page
        assert "Choose a date from 2000-01-01 to 9998-12-31" in response.get_data(as_text=True)
    api = token_for(app, admin)
    for path in USAGE_API:
        response = api.get(path + query)
        assert response.status_code == 422, path
        errors = response.get_json()["errors"]
        assert set(errors) & {"since", "until"}, errors


def test_the_last_and_first_days_in_range_are_served(app, admin, admin_client):
    for since, until in (("9998-12-29", "9998-12-31"), ("2000-01-01", "2000-01-09")):
        query = f"?period=custom&since={since}&until={until}"
        for page in USAGE_PAGES:
            assert admin_client.get(page + query).status_code == 200, (page, since)
        for path in USAGE_API:
            assert token_for(app, admin).get(path + query).status_code == 200, (path, since)


@pytest.mark.parametrize(
    "moment",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-14:00",  # past the last moment once in UTC
        "0001-01-01T00:00:00+14:00",  # before the first moment once in UTC
        "0001-01-01T00:00:00Z",
        "2030-01-01T00:00:00",  # no time zone
    ],
)
def test_odd_token_expiry_moments_are_a_422(app, member, moment):
    response = token_for(app, member).post("tokens", json={"name": "odd", "expires_at": moment})
    assert response.status_code == 422, response.get_json()


# --- amounts, prices, budgets ------------------------------------------------------------

ODD_NUMBERS = [
    "1E+999999999",  # Decimal takes it; abs() and quantize() then raise
    "-1E+999999999",
    "1e-999999999",
    "0E+999999999",  # zero, formatted as a billion zeros
    "NaN",
    "sNaN",
    "-Infinity",
    "9" * 400,
    "1_000",  # Decimal and int() take underscores
    "\u0661\u0662",  # Arabic-Indic digits: Decimal reads 12
    "0x10",
]


def count(model: type) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.5", Decimal("12.5")),
        (" 2.50 ", Decimal("2.5")),
        ("1e3", Decimal("1000")),
        ("-0", Decimal("0")),
        ("0.000001", Decimal("0.000001")),
        (7, Decimal("7")),
        (0.25, Decimal("0.25")),
        ("1E+999999999", "range"),
        ("-1E+999999999", "range"),
        ("0E+999999999", "range"),
        ("9" * 400, "range"),
        ("1e-999999999", "places"),
        ("0.0000001", "places"),
        ("NaN", "finite"),
        ("sNaN", "finite"),
        ("Infinity", "finite"),
        (float("inf"), "finite"),
        ("1_000", "number"),
        ("\u0661\u0662", "number"),
        ("0x10", "number"),
        ("", "number"),
        (True, "number"),
        (None, "number"),
        ([1], "number"),
        ("9" * 5000, "number"),
    ],
)
def test_one_parser_reads_every_typed_decimal(raw, expected):
    if isinstance(expected, Decimal):
        value = parse_decimal(raw, low=-(10**9), high=10**9, places=6)
        assert value == expected and str(value) == str(expected)
        return
    with pytest.raises(NumberError) as excinfo:
        parse_decimal(raw, low=-(10**9), high=10**9, places=6)
    assert excinfo.value.kind == expected


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_odd_credit_amounts_are_a_422_at_the_field(admin_client, value):
    org = factories.make_org("acme", "Acme")
    user = factories.make_user("someone@example.com")
    for kind, owner_id in (("org", org.id), ("user", user.id)):
        prefix = f"credits-{kind}-{owner_id}-"
        response = admin_client.post(
            f"/admin/{kind}s/{owner_id}/credits",
            headers=HX,
            data={f"{prefix}amount": value, f"{prefix}kind": "grant", f"{prefix}note": "odd"},
        )
        assert response.status_code == 422, (kind, value)
        assert f'id="{prefix}amount-error"' in response.get_data(as_text=True)
    assert count(CreditEntry) == 0


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_odd_budget_amounts_on_a_members_token_are_a_422(app, member, member_client, value):
    token, _ = make_token(member)
    response = member_client.post(
        f"/tokens/{token.id}/budgets",
        headers=HX,
        data={
            "new-budget-amount": value,
            "new-budget-period": "monthly",
            "new-budget-unit": "usd",
            "new-budget-enforcement": "hard",
            "new-budget-thresholds": "50, 80, 100",
        },
    )
    assert response.status_code == 422
    assert 'id="new-budget-amount-error"' in response.get_data(as_text=True)
    assert count(Budget) == 0


@pytest.mark.parametrize("thresholds", ["1_000", "\u0661\u0662", "9" * 400, "50, 1E+999999999"])
def test_odd_budget_thresholds_are_a_422(app, member, member_client, thresholds):
    token, _ = make_token(member)
    data = {"new-budget-amount": "5", "new-budget-thresholds": thresholds}
    response = member_client.post(f"/tokens/{token.id}/budgets", headers=HX, data=data)
    assert response.status_code == 422
    assert count(Budget) == 0


@pytest.mark.parametrize("value", [*ODD_NUMBERS, 1e308, -1e308, 10**400])
def test_odd_amounts_through_the_api_are_a_422(app, admin, value):
    api = token_for(app, admin)
    org = factories.make_org("acme", "Acme")
    for path in (f"orgs/{org.id}/credits", f"users/{admin.id}/credits"):
        response = api.post(path, json={"amount": value, "note": "odd"})
        assert response.status_code == 422, (path, response.get_json())
        assert "amount" in response.get_json()["errors"]
    budget = {"owner": "org", "owner_id": org.id, "amount": value}
    assert api.post("budgets", json=budget).status_code == 422
    assert count(CreditEntry) == 0 and count(Budget) == 0


@pytest.mark.parametrize("value", [*ODD_NUMBERS, 1e308, 10**400])
def test_odd_prices_and_multipliers_are_a_422(app, admin, value):
    api = token_for(app, admin)
    model = factories.model("openai/gpt-5.4-mini")
    before = (model.input_price, model.version)
    body = {"input_price": value, "version": model.version}
    response = api.patch(f"models/{model.id}", json=body)
    assert response.status_code == 422 and "input_price" in response.get_json()["errors"]
    provider = factories.provider("openai")
    body = {"credit_multiplier": value, "version": provider.version}
    response = api.patch(f"providers/{provider.id}", json=body)
    assert response.status_code == 422 and "credit_multiplier" in response.get_json()["errors"]
    stored = fresh(CatalogModel, model.id)
    assert (stored.input_price, stored.version) == before


def test_a_price_typed_in_exponent_notation_is_stored_plain(app, admin):
    api = token_for(app, admin)
    model = factories.model("openai/gpt-5.4-mini")
    body = {"input_price": "1.5e1", "output_price": "-0", "version": model.version}
    assert api.patch(f"models/{model.id}", json=body).status_code == 200
    stored = fresh(CatalogModel, model.id)
    assert str(stored.input_price.normalize()) == "15" and stored.output_price == 0


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


# --- fuzzing every field of every form a role sees -----------------------------------------

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
    """For routes no page shows a form for: each form field name under every prefix in use,
    every odd value in one payload or another."""
    names = sorted(form_field_names(app))
    prefixes = ["", "settings-", "profile-", "feature-", "org-settings-", "new-budget-"]
    prefixes += [f"add-{factories.provider('openai').id}-"]
    prefixes += [f"edit-{c.id}-" for c in db.session.scalars(sa.select(Credential))]
    prefixes += [f"user-{u.id}-" for u in db.session.scalars(sa.select(User))]
    prefixes += [f"credits-user-{u.id}-" for u in db.session.scalars(sa.select(User))]
    prefixes += [f"budget-{b.id}-" for b in db.session.scalars(sa.select(Budget))]
    return [
        {
            prefix + name: ODD_VALUES[(shift + n) % len(ODD_VALUES)]
            for n, name in enumerate(names)
            for prefix in prefixes
        }
        for shift in range(len(ODD_VALUES))
    ]


def client_for(app, role: str, admin: User, member: User) -> tuple[FlaskClient, list[str]]:  # type: ignore[no-untyped-def]
    """A signed-in client for ``role``, and the pages of its own records to read too."""
    if role == "admin":
        return login(app.test_client(), admin.email), []
    if role == "org_admin":  # of the org the sample records belong to
        org = db.session.scalar(sa.select(Organization).where(Organization.slug == "sample-org"))
        factories.add_member(org or factories.make_org("sample-org"), member, "org_admin")
    token, _ = make_token(member, name="own")  # its budgets are the member's to set
    return login(app.test_client(), member.email), [f"/tokens/{token.id}/budgets"]


# The fields the fuzzing before this one never filled, because their names carry a prefix.
PREFIXED = {
    "admin": ("credits-org-", "credits-user-", "new-budget-", "budget-", "user-", "edit-"),
    "org_admin": ("new-budget-", "org-settings-", "profile-", "feature-", "add-"),
    "member": ("new-budget-", "add-"),
}
# The admin's pages hold every form; an org admin and a member reach some of them through
# their own permission checks, tried with the values that reach those as numbers and text.
ROLE_VALUES = {
    "admin": fuzzing.ODD_VALUES,
    "org_admin": ["9999-12-31", "1E+999999999", "9" * 400, "x" * 5000],
    "member": ["9999-12-31", "1E+999999999", "9" * 400, "x" * 5000],
}


@pytest.mark.parametrize("role", ["admin", "org_admin", "member"])
def test_odd_values_in_every_field_of_every_form_a_role_sees_never_make_a_500(
    app, admin, member, role, sleeps
):
    client, own_pages = client_for(app, role, admin, member)
    forms = fuzzing.forms_of_role(app, client, role, own_pages)
    names = {name for form in forms for name in form.fields}
    for prefix in PREFIXED[role]:
        assert any(name.startswith(prefix) for name in names), f"no {prefix}… field found"
    assert any(f.method == "get" and "period" in f.fields for f in forms)
    for form in forms:
        fuzzing.fuzz_form(client, form, ROLE_VALUES[role])
    # Routes no page shows a form for (buttons, hand-made posts): every field name blind.
    covered = {fuzzing.endpoint_of(app, f.action, f.method.upper()) for f in forms}
    payloads = odd_payloads(app)[:3]
    for rule in routes(app, "POST"):
        if rule.endpoint in covered | fuzzing.SKIPPED_ENDPOINTS:
            continue
        if access_level(rule) not in fuzzing.LEVELS[role]:
            continue
        for payload in payloads:
            response = client.post(build(app, rule), data=payload, headers=HX)
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
    """Every page, whatever it reads from the query; a custom period, so that the dates are
    read (the filter forms themselves are fuzzed option by option above)."""
    from urllib.parse import urlencode

    for value in ODD_VALUES:
        query = "?" + urlencode({"period": "custom", **{name: value for name in QUERY_NAMES}})
        for rule in routes(app, "GET"):
            if access_level(rule) == PUBLIC:
                continue
            response = admin_client.get(build(app, rule) + query)
            assert response.status_code < 500, f"GET {rule.rule}?…={value[:10]}"


# --- the API: text fields that are not text ---------------------------------------------


@pytest.mark.parametrize("value", [5, True, [1], {}, 1.5])
@pytest.mark.parametrize("name", ["base_url", "slug"])
def test_a_provider_field_that_is_not_text_is_a_422_at_the_field(app, admin, name, value):
    api = token_for(app, admin)
    body = {"slug": "acme", "display_name": "Acme", "protocol": "openai", name: value}
    response = api.post("providers", json=body)
    assert response.status_code == 422 and name in response.get_json()["errors"]
    openai = factories.provider("openai")
    if name != "slug":  # the slug is not a field of an update
        response = api.patch(f"providers/{openai.id}", json={name: value, "version": 1})
        assert response.status_code == 422 and name in response.get_json()["errors"]
    assert db.session.scalar(sa.select(Provider).where(Provider.slug == "acme")) is None


@pytest.mark.parametrize("value", [5, True, [1], {}])
def test_an_imported_provider_field_that_is_not_text_is_an_error_at_its_path(app, admin, value):
    api = token_for(app, admin)
    for slug in ("openai", "acme"):  # a stored provider, a new one
        provider = {"slug": slug, "display_name": "X", "protocol": "openai", "base_url": value}
        document = {"switchboard_config": 1, "providers": [provider]}
        for apply in (False, True):
            response = api.post("config/import", json={"document": document, "apply": apply})
            assert response.status_code == 422
            assert "providers[0].base_url" in response.get_json()["errors"]


def test_a_feature_in_an_org_id_the_database_cannot_hold_is_a_422(app, admin):
    api = token_for(app, admin)
    for org_id in (2**70, -1, 0, "1", True):
        response = api.post("features", json={"slug": "fz", "name": "F", "org_id": org_id})
        assert response.status_code == 422 and "org_id" in response.get_json()["errors"]


def test_an_empty_default_model_in_a_document_is_an_error_not_a_crash_on_apply(app, admin):
    api = token_for(app, admin)
    document = {"switchboard_config": 1, "defaults": {"chat": ""}}
    for apply in (False, True):
        response = api.post("config/import", json={"document": document, "apply": apply})
        assert response.status_code == 422 and "defaults.chat" in response.get_json()["errors"]


def test_a_non_text_profile_name_in_an_imported_org_is_an_error(app, admin):
    api = token_for(app, admin)
    for name in ([1], {"a": 1}):
        org = {"slug": "acme", "name": "Acme", "profiles": [{"name": name}]}
        document = {"switchboard_config": 1, "orgs": [org]}
        response = api.post("config/import", json={"document": document})
        assert response.status_code == 422
        assert "orgs[0].profiles[0].name" in response.get_json()["errors"]


# --- the API: every field of every documented body, in every wrong JSON type -------------

WRONG_TYPES = [5, True, [1], {"a": 1}, None, "x" * 100_000]


@pytest.fixture
def api_world(app, admin, member) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Records for every id in an API path, so the requests reach their services."""
    app.config.update(API_RPM=None, API_SENSITIVE_RPM=None)  # put back after the test
    org = factories.make_org("acme", "Acme")
    membership = factories.add_member(org, member)
    key = factories.user_key(admin, "openai", "sk-api-fuzz-own-key-0000001")
    feature = features.create_feature(admin, org, "fz", "Fuzz")
    features.create_feature(admin, None, "fz-global", "Global fuzz")
    profile = profiles.create_profile(admin, org, "fzp")
    budget = budgets.create_budget(
        admin, budgets.BudgetOwner("org", org.id), budgets.BudgetInput("monthly", "usd", "5")
    )
    token, _ = make_token(member, name="spare")
    ids = {
        "provider_id": factories.provider("openai").id,
        "model_id": factories.model("openai/gpt-5.4-mini").id,
        "credential_id": key.id,
        "org_id": org.id,
        "membership_id": membership.id,
        "user_id": member.id,
        "feature_id": feature.id,
        "profile_id": profile.id,
        "budget_id": budget.id,
        "token_id": token.id,
        "owner_id": org.id,
        "invitation_id": invitations.invite(admin, org, "inv@example.com", "member").id,
        "host_id": factories.allowed_host("localhost:11434").id,
    }
    return {
        "ids": ids,
        "owners": {"features": feature.id, "users": member.id, "profiles": profile.id},
    }


def _with_owner(path: str, owners: dict[str, int]) -> str:
    """/settings/<scope>s/<owner_id>: the owner is an org, a feature, a user or a profile."""
    match = re.fullmatch(r"/settings/(\w+)/\d+", path)
    if match and match.group(1) in owners:
        return f"/settings/{match.group(1)}/{owners[match.group(1)]}"
    return path


def test_every_wrong_json_type_in_every_api_body_field_is_refused_not_a_500(
    app, admin, api_world, sleeps
):
    api = token_for(app, admin)
    document = api.get("/api/v1/openapi.json").get_json()
    operations = fuzzing.write_operations(document, api_world["ids"])
    assert len(operations) >= 40
    operations = list({id(op.schema): op for op in reversed(operations)}.values())  # one each
    for operation in operations:
        operation.path = _with_owner(operation.path, api_world["owners"])
        _fuzz_operation(api, document, operation, api_world["ids"])


def _fuzz_operation(api: Any, document: dict[str, Any], operation: Any, ids: Any) -> None:
    """Each wrong type in every field of the body, the required ones otherwise plausible."""
    fields = operation.schema.get("properties", {})
    needed = {
        name: fuzzing.plausible(document, fields[name], name, ids)
        for name in operation.schema.get("required", [])
    }
    base = {**needed, **_version(api, operation, fields)}

    def reread() -> None:  # a save changed the record: its version is new
        base.update(_version(api, operation, fields))

    send = fuzzing.api_sender(api.open, operation)
    for value in WRONG_TYPES:
        fuzzing.shrink(send, lambda: base, fields, value, saved=reread)


def _version(api: Any, operation: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """The record's current version for an update (a stale one is a 409, not a check)."""
    if "version" not in fields:
        return {}
    response = api.get(operation.path)
    return {"version": response.get_json().get("version", 1) if response.status_code == 200 else 1}


# --- config import: every field of every record kind, in every wrong type ------------------


def _odd_document(exported: dict[str, Any], value: Any) -> dict[str, Any]:
    """The exported configuration with ``value`` in every field: each field of each record
    kind in a record of its own (new ones, and stored ones in turn), and in every setting."""
    document: dict[str, Any] = {"switchboard_config": 1}
    for section in ("providers", "models", "profiles", "features", "orgs"):
        records = exported.get(section) or []
        if not records:
            continue
        document[section] = odd_records(records, value)
    document["settings"] = dict.fromkeys(exported["settings"], value)
    document["defaults"] = dict.fromkeys(exported["defaults"], value)
    return document


def odd_records(records: list[dict[str, Any]], value: Any) -> list[dict[str, Any]]:
    identity = next(k for k in ("slug", "name", "model_id") if k in records[0])
    fields = sorted({name for record in records for name in record} | {"settings"})
    odd = []
    for index, name in enumerate(fields):
        new = copy.deepcopy(records[0])  # a new record …
        new[identity] = f"fz{index}"
        stored = copy.deepcopy(records[index % len(records)])  # … and a stored one
        for record in (new, stored):
            record[name] = value
            if isinstance(record.get("settings"), dict):
                record["settings"] = dict.fromkeys(record["settings"], value)
            for nested in ("profiles", "features"):  # an org's own, in its first copies
                inner = record.get(nested)
                if isinstance(inner, list) and inner and nested != name:
                    record[nested] = odd_records(inner, value) if index == 0 else []
        odd += [new, stored]
    return odd


IDENTITIES = ("slug", "name", "model_id", "provider")


def _without(document: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """``document`` without the fields at ``paths`` (``models[3].input_price``), or the
    whole record when its identity was refused (``orgs[0].profiles[1].name``)."""
    document = copy.deepcopy(document)
    doomed: list[tuple[Any, Any]] = []
    for path in paths:
        steps = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]
        if len(steps) > 2 and steps[-1] in IDENTITIES:
            steps = steps[:-1]
        parent = _at(document, steps[:-1])
        if steps and isinstance(parent, dict | list):
            doomed.append((parent, steps[-1]))
    for parent, key in doomed:
        if isinstance(parent, dict):
            parent.pop(key, None)
        elif isinstance(key, int) and key < len(parent):
            parent[key] = None  # dropped below: indexes of the other paths stay right
    return _drop_none_records(document)


def _at(document: Any, steps: list[Any]) -> Any:
    for step in steps:
        if isinstance(document, dict) and isinstance(step, str):
            document = document.get(step)
        elif isinstance(document, list) and isinstance(step, int) and step < len(document):
            document = document[step]
        else:
            return None
    return document


def _drop_none_records(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none_records(v) for k, v in value.items()}
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return [_drop_none_records(v) for v in value if v is not None]
    return value


def test_every_wrong_type_in_every_field_of_an_imported_document_is_refused_not_a_500(
    app, admin, api_world
):
    api = token_for(app, admin)
    exported = api.get("/api/v1/config/export?format=json").get_json()
    assert exported["features"] and exported["orgs"] and exported["orgs"][0]["profiles"]
    long_text = "x" * 5000  # 100 000 in each of hundreds of records would be a 413
    values = [v for v in WRONG_TYPES if not isinstance(v, str)]
    for value in [*values, long_text, "", "9999-12-31", "1E+999999999", "NaN"]:
        document = _odd_document(exported, value)
        for _ in range(6):  # what the planner accepts goes through again, then is applied
            response = api.post("config/import", json={"document": document})
            assert response.status_code in (200, 422), (value, response.status_code)
            errors = (response.get_json() or {}).get("errors") or {}
            if response.status_code == 200 or not errors:
                break
            document = _without(document, errors)
        response = api.post("config/import", json={"document": document, "apply": True})
        assert response.status_code in (200, 409, 422), (str(value)[:20], response.status_code)
