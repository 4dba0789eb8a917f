"""Nothing a person can type makes a 500: far dates, non-finite and huge numbers in JSON
fields and in amounts, prices and budgets, LIKE wildcards in search boxes, missing or
tampered version fields. Each is a 422 at the field (nothing saved) or a search for exactly
what was typed."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from wtforms.fields.core import UnboundField

from tests import factories
from tests.api.conftest import token_for
from tests.blueprints.test_authorization import PUBLIC, access_level, build, routes
from tests.conftest import login
from tests.gateway.support import make_token
from webapp.extensions import db
from webapp.models import (
    Budget,
    CatalogModel,
    Credential,
    CreditEntry,
    ParameterSet,
    Provider,
    User,
)
from webapp.services.numbers import NumberError, parse_decimal

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
