"""Money pages: credits (grant and adjust, balance and ledger), budgets (create, edit,
delete, progress), billing settings, and who may see or change which account."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from tests.blueprints.test_account import login_with_csrf
from tests.conftest import login
from webapp.extensions import db
from webapp.models import AuditEvent, Budget, CreditEntry, UsageRecord
from webapp.services.billing import budgets, config, ledger
from webapp.services.billing.ledger import Owner

HX = {"HX-Request": "true"}


@pytest.fixture
def acme(app):  # type: ignore[no-untyped-def]
    return factories.make_org("acme", "Acme")


@pytest.fixture
def other(app):  # type: ignore[no-untyped-def]
    return factories.make_user("other@example.com")


@pytest.fixture
def org_admin_client(app, acme, member):  # type: ignore[no-untyped-def]
    factories.add_member(acme, member, "org_admin")
    return login(app.test_client(), member.email)


def grant(
    client, kind: str, owner_id: int, amount: str, note="allowance", entry="grant", headers=HX
):  # type: ignore[no-untyped-def]
    prefix = f"credits-{kind}-{owner_id}"
    data = {f"{prefix}-kind": entry, f"{prefix}-amount": amount, f"{prefix}-note": note}
    return client.post(f"{_base(kind, owner_id)}/credits", data=data, headers=headers)


def _base(kind: str, owner_id: int) -> str:
    return f"/admin/{'orgs' if kind == 'org' else 'users'}/{owner_id}"


def budget_data(prefix="new-budget", **fields):  # type: ignore[no-untyped-def]
    values = {
        "period": "monthly",
        "unit": "usd",
        "amount": "100",
        "enforcement": "hard",
        "thresholds": "50, 80, 100",
        **fields,
    }
    return {f"{prefix}-{k}": v for k, v in values.items()}


def _balance(kind: str, owner_id: int) -> Decimal | None:
    view = ledger.view(Owner(kind, owner_id))
    return view.balance if view else None


# --- credits -------------------------------------------------------------------------------


def test_user_page_shows_credits_and_budgets_sections(admin_client, member):
    body = admin_client.get(f"/admin/users/{member.id}").get_data(as_text=True)
    assert f'id="billing-credits-user-{member.id}"' in body
    assert f'id="billing-budgets-user-{member.id}"' in body
    assert "Grant or adjust credits" in body and "Add a budget" in body


def test_org_page_has_a_credits_and_budgets_tab(admin_client, acme):
    body = admin_client.get(f"/admin/orgs/{acme.id}?tab=credits").get_data(as_text=True)
    assert f'id="billing-credits-org-{acme.id}"' in body
    assert f'id="billing-budgets-org-{acme.id}"' in body


def test_owner_page_full_and_partial(admin_client, member):
    full = admin_client.get(f"/admin/users/{member.id}/credits")
    assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
    part = admin_client.get(f"/admin/users/{member.id}/credits", headers=HX)
    text = part.get_data(as_text=True)
    assert part.status_code == 200 and "<html" not in text
    assert text.lstrip().startswith("<section") and f'id="billing-credits-user-{member.id}"' in text
    assert "billing-budgets" not in text
    assert "HX-Request" in part.headers["Vary"]


def test_admin_grants_credits_audited(admin_client, admin, member):
    response = grant(admin_client, "user", member.id, "25.5", note="welcome")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "25.50" in body and "welcome" in body and admin.email in body
    assert "Grant of 25.50 credits recorded" in response.headers["HX-Trigger"]
    assert _balance("user", member.id) == Decimal("25.5")
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "credits"))
    assert event is not None and event.action == "grant" and event.actor_id == admin.id


def test_admin_adjusts_org_credits_downwards(admin_client, acme):
    assert grant(admin_client, "org", acme.id, "10").status_code == 200
    response = grant(admin_client, "org", acme.id, "-3", entry="adjustment", note="correction")
    assert response.status_code == 200
    assert _balance("org", acme.id) == Decimal("7")


def test_plain_post_redirects_to_the_owners_page(admin_client, member):
    response = grant(admin_client, "user", member.id, "5", headers={})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/users/{member.id}")


@pytest.mark.parametrize(
    ("amount", "entry", "message"),
    [
        ("abc", "grant", "Enter a number"),
        ("1e309", "grant", "between"),
        ("NaN", "grant", "between"),
        ("-5", "grant", "positive amount"),
        ("0", "adjustment", "other than 0"),
        ("1.0000001", "grant", "six decimals"),
        ("", "grant", "Enter an amount"),
    ],
)
def test_bad_amounts_are_422_at_the_field(admin_client, member, amount, entry, message):
    response = grant(admin_client, "user", member.id, amount, entry=entry)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body and 'aria-invalid="true"' in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditEntry)) == 0


def test_unknown_entry_kind_and_missing_reason_are_422(admin_client, member):
    assert grant(admin_client, "user", member.id, "5", entry="charge").status_code == 422
    response = grant(admin_client, "user", member.id, "5", note="")
    assert response.status_code == 422 and "Say why" in response.get_data(as_text=True)
    assert _balance("user", member.id) is None


def test_member_sees_own_balance_and_entries_on_account(app, admin, member, member_client):
    ledger.post_entry(admin, Owner("user", member.id), Decimal("12"), kind="grant", note="gift")
    body = member_client.get("/account").get_data(as_text=True)
    assert f'id="billing-credits-user-{member.id}"' in body
    assert "12.00" in body and "gift" in body
    assert "Grant or adjust credits" not in body  # members do not grant
    assert f'id="billing-budgets-user-{member.id}"' in body


def test_member_cannot_grant(member_client, member):
    assert grant(member_client, "user", member.id, "1000").status_code == 403
    assert _balance("user", member.id) is None


def test_member_sees_own_credits_and_budgets_sections(member_client, member):
    full = member_client.get("/account/credits")
    assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
    part = member_client.get("/account/budgets", headers=HX).get_data(as_text=True)
    assert f'id="billing-budgets-user-{member.id}"' in part and "<html" not in part
    assert "Add a budget" not in part


def test_member_cannot_see_another_users_or_an_orgs_account(app, admin, member_client, other, acme):
    ledger.post_entry(admin, Owner("user", other.id), Decimal("9"), kind="grant", note="secret")
    for url in (
        f"/admin/users/{other.id}/credits",
        f"/admin/users/{other.id}/budgets",
        f"/admin/orgs/{acme.id}/credits",
        f"/admin/orgs/{acme.id}/budgets",
    ):
        response = member_client.get(url, headers=HX)
        assert response.status_code == 403, url
        assert "secret" not in response.get_data(as_text=True)
    assert grant(member_client, "user", other.id, "5").status_code == 403
    own = member_client.get("/account/credits", headers=HX).get_data(as_text=True)
    assert f'id="billing-credits-user-{other.id}"' not in own and "secret" not in own
    assert _balance("user", other.id) == Decimal("9")


def test_org_admin_sees_own_org_account_but_cannot_grant(org_admin_client, admin, acme):
    ledger.post_entry(admin, Owner("org", acme.id), Decimal("40"), kind="grant", note="seed")
    response = org_admin_client.get(f"/admin/orgs/{acme.id}/credits", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "40.00" in body and "seed" in body
    assert "Grant or adjust credits" not in body and "Only admins grant" in body
    assert grant(org_admin_client, "org", acme.id, "100").status_code == 403
    assert _balance("org", acme.id) == Decimal("40")
    page = org_admin_client.get(f"/admin/orgs/{acme.id}?tab=credits").get_data(as_text=True)
    assert f'id="billing-credits-org-{acme.id}"' in page


def test_org_admin_limited_to_own_org(org_admin_client, app):
    globex = factories.make_org("globex", "Globex")
    assert org_admin_client.get(f"/admin/orgs/{globex.id}/credits").status_code == 404
    assert org_admin_client.get(f"/admin/orgs/{globex.id}/budgets").status_code == 404
    data = budget_data()
    assert org_admin_client.post(f"/admin/orgs/{globex.id}/budgets", data=data).status_code == 404


def test_ledger_links_to_the_usage_record_and_members_only_see_their_own(
    app, admin, member, member_client, other
):
    mine = _usage(member.id, "req-mine")
    theirs = _usage(other.id, "req-theirs")
    account = ledger.post_entry(
        admin, Owner("user", member.id), Decimal("5"), kind="grant", note="x"
    )
    db.session.add(
        CreditEntry(
            account_id=account.account_id,
            kind="charge",
            amount=Decimal("-1"),
            balance_after=Decimal("4"),
            usage_record_id=mine.id,
            request_id="req-mine",
        )
    )
    db.session.commit()
    body = member_client.get("/account").get_data(as_text=True)
    assert f"/account/usage/{mine.id}" in body
    page = member_client.get(f"/account/usage/{mine.id}")
    assert page.status_code == 200 and "req-mine" in page.get_data(as_text=True)
    assert member_client.get(f"/account/usage/{theirs.id}").status_code == 404


def _usage(user_id: int, request_id: str, **fields) -> UsageRecord:  # type: ignore[no-untyped-def]
    record = UsageRecord(
        request_id=request_id,
        caller="api",
        user_id=user_id,
        status="ok",
        provider_slug="openai",
        model_name="gpt-test",
        mode="managed",
        **fields,
    )
    db.session.add(record)
    db.session.commit()
    return record


def test_unpriced_record_shows_the_flag_and_no_charge(app, member, member_client):
    record = _usage(member.id, "req-unpriced", unpriced=True, input_tokens=10, output_tokens=5)
    body = member_client.get(f"/account/usage/{record.id}").get_data(as_text=True)
    assert "unpriced" in body and "0 credits" in body


# --- budgets -------------------------------------------------------------------------------


def test_admin_creates_a_budget_with_progress(admin_client, member):
    response = admin_client.post(
        f"/admin/users/{member.id}/budgets", data=budget_data(enforcement="soft"), headers=HX
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    budget = db.session.scalar(sa.select(Budget).where(Budget.user_id == member.id))
    assert budget is not None and not budget.hard and budget.thresholds == [50, 80, 100]
    assert "<progress" in body and "soft" in body and "resets" in body
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "budget"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "0"}, "more than 0"),
        ({"amount": "abc"}, "Enter a number"),
        ({"amount": "1e309"}, "between"),
        ({"thresholds": "0, 50"}, "between 1 and 1000"),
        ({"thresholds": "5000"}, "between 1 and 1000"),
        ({"thresholds": "half"}, "Percentages"),
        ({"period": "weekly"}, "Not a valid choice"),
        ({"unit": "eur"}, "Not a valid choice"),
    ],
)
def test_bad_budgets_are_422(admin_client, member, fields, message):
    response = admin_client.post(
        f"/admin/users/{member.id}/budgets", data=budget_data(**fields), headers=HX
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and message in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Budget)) == 0


def _make_budget(admin, kind: str, owner_id: int, **fields) -> Budget:  # type: ignore[no-untyped-def]
    data = budgets.BudgetInput(**{"period": "daily", "unit": "credits", "amount": "10", **fields})
    return budgets.create_budget(admin, budgets.BudgetOwner(kind, owner_id), data)


def test_admin_edits_and_deletes_a_budget(admin_client, admin, acme):
    budget = _make_budget(admin, "org", acme.id)
    prefix = f"budget-{budget.id}"
    data = budget_data(prefix, amount="20", period="total", version=str(budget.version))
    response = admin_client.post(f"/admin/billing/budgets/{budget.id}", data=data, headers=HX)
    assert response.status_code == 200 and "never resets" in response.get_data(as_text=True)
    db.session.refresh(budget)
    assert budget.amount == Decimal("20") and budget.period == "total"
    bad = budget_data(prefix, amount="-1", version=str(budget.version))
    response = admin_client.post(f"/admin/billing/budgets/{budget.id}", data=bad, headers=HX)
    assert response.status_code == 422 and "<details open" in response.get_data(as_text=True)
    stale = budget_data(prefix, amount="30", version=str(budget.version - 1 or 99))
    assert (
        admin_client.post(f"/admin/billing/budgets/{budget.id}", data=stale, headers=HX).status_code
        == 409
    )
    response = admin_client.post(f"/admin/billing/budgets/{budget.id}/delete", headers=HX)
    assert response.status_code == 200 and f'id="budget-{budget.id}"' not in response.get_data(
        as_text=True
    )
    budget_id = int(prefix.split("-")[1])
    db.session.expire_all()
    assert db.session.scalar(sa.select(Budget).where(Budget.id == budget_id)) is None


def test_members_and_org_admins_cannot_change_user_or_org_budgets(
    app, admin, member, org_admin_client, acme
):
    budget = _make_budget(admin, "org", acme.id)
    body = org_admin_client.get(f"/admin/orgs/{acme.id}/budgets", headers=HX).get_data(as_text=True)
    assert f'id="budget-{budget.id}"' in body and "Add a budget" not in body
    data = budget_data()
    assert org_admin_client.post(f"/admin/orgs/{acme.id}/budgets", data=data).status_code == 403
    assert org_admin_client.post(f"/admin/users/{member.id}/budgets", data=data).status_code == 403
    assert org_admin_client.post(f"/admin/billing/budgets/{budget.id}/delete").status_code == 403
    assert db.session.get(Budget, budget.id) is not None


def test_soft_budget_past_a_threshold_shows_a_warning(app, admin, admin_client, member):
    budget = _make_budget(admin, "user", member.id, hard=False, thresholds="50, 80")
    from webapp.models import BudgetWindow
    from webapp.models.base import utcnow
    from webapp.services.billing.periods import period_start

    start = period_start("daily", config.current().timezone, utcnow())
    db.session.add(
        BudgetWindow(
            budget_id=budget.id,
            period_start=start,
            spent=Decimal("8.5"),
            reserved=Decimal(0),
            warned_percent=80,
        )
    )
    db.session.commit()
    body = admin_client.get(f"/admin/users/{member.id}/budgets", headers=HX).get_data(as_text=True)
    assert "warning: 80 % reached" in body and "(85 %)" in body


# --- settings ------------------------------------------------------------------------------


def test_settings_page_full_partial_and_nav(admin_client):
    full = admin_client.get("/admin/billing").get_data(as_text=True)
    assert "Billing settings" in full and 'href="/admin/billing"' in full
    part = admin_client.get("/admin/billing", headers=HX).get_data(as_text=True)
    assert part.lstrip().startswith("{#") is False and 'id="billing-settings"' in part
    assert "<html" not in part


def test_admin_saves_billing_settings(admin_client):
    response = admin_client.post(
        "/admin/billing", data={"credits_required": "y", "timezone": "Europe/Berlin"}, headers=HX
    )
    assert response.status_code == 200
    assert config.current() == config.BillingSettings(True, "Europe/Berlin")
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "billing"))


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "x" * 65])
def test_unknown_time_zone_is_422(admin_client, zone):
    response = admin_client.post("/admin/billing", data={"timezone": zone}, headers=HX)
    assert response.status_code == 422 and "field-error" in response.get_data(as_text=True)
    assert config.current().timezone == "UTC"


def test_members_cannot_change_billing_settings(member_client):
    assert member_client.get("/admin/billing").status_code == 403
    response = member_client.post("/admin/billing", data={"timezone": "Asia/Tokyo"})
    assert response.status_code == 403 and config.current().timezone == "UTC"


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_money_forms_require_the_csrf_token(app, member):
    admin = factories.make_user("csrf-admin@example.com", role="admin")
    client = login_with_csrf(app, admin)
    assert grant(client, "user", member.id, "5").status_code == 400
    assert client.post(f"/admin/users/{member.id}/budgets", data=budget_data()).status_code == 400
    assert client.post("/admin/billing", data={"timezone": "Asia/Tokyo"}).status_code == 400
    assert _balance("user", member.id) is None
    page = client.get(f"/admin/users/{member.id}").get_data(as_text=True)
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = grant(client, "user", member.id, "5", headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 200 and _balance("user", member.id) == Decimal("5")


def test_real_calls_show_their_charge_and_soft_budget_warning(wired, admin, member, member_client):
    from webapp.services import llm

    ledger.post_entry(admin, Owner("user", member.id), Decimal("10"), kind="grant", note="start")
    budgets.create_budget(
        admin,
        budgets.BudgetOwner("user", member.id),
        budgets.BudgetInput("monthly", "usd", "0.00005", hard=False, thresholds="50 100"),
    )
    reply = llm.complete(
        [{"role": "user", "content": "Hi"}],
        context=llm.CallContext(user=member),
        model="openai/gpt-5.4-mini",
    )
    record = db.session.scalar(
        sa.select(UsageRecord).where(UsageRecord.request_id == reply.request_id)
    )
    body = member_client.get("/account").get_data(as_text=True)
    assert f"/account/usage/{record.id}" in body and "metering" in body
    assert "warning: 50 % reached" in body  # the call cost 81 % of the budget
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "warn"))
    page = member_client.get(f"/account/usage/{record.id}").get_data(as_text=True)
    assert reply.request_id in page and "credits" in page


def _token(user, name: str = "ci"):  # type: ignore[no-untyped-def]
    from webapp.models import AccessToken

    token = AccessToken(
        user_id=user.id, name=name, prefix=f"sb-{name}-0001", token_hash=name.ljust(64, "0")
    )
    db.session.add(token)
    db.session.commit()
    return token


def test_member_sets_budgets_on_their_own_access_token(member_client, member, other):
    token = _token(member)
    url = f"/tokens/{token.id}/budgets"
    full = member_client.get(url)
    assert full.status_code == 200 and f'id="billing-budgets-token-{token.id}"' in full.get_data(
        as_text=True
    )
    assert "billing-credits" not in full.get_data(as_text=True)  # tokens hold no credits
    response = member_client.post(url, data=budget_data(period="daily"), headers=HX)
    assert response.status_code == 200 and "<progress" in response.get_data(as_text=True)
    budget = db.session.scalar(sa.select(Budget).where(Budget.access_token_id == token.id))
    assert budget is not None and budget.period == "daily"
    bad = member_client.post(url, data=budget_data(amount="0"), headers=HX)
    assert bad.status_code == 422
    prefix = f"budget-{budget.id}"
    edit = budget_data(prefix, amount="7", version=str(budget.version))
    response = member_client.post(f"{url}/{budget.id}", data=edit, headers=HX)
    assert response.status_code == 200
    db.session.refresh(budget)
    assert budget.amount == Decimal("7")
    # Another user's token, and this token's budget through another token's URL: 404.
    theirs = _token(other, "theirs")
    assert member_client.get(f"/tokens/{theirs.id}/budgets").status_code == 404
    assert member_client.post(f"/tokens/{theirs.id}/budgets", data=budget_data()).status_code == 404
    mine_too = _token(member, "second")
    wrong = f"/tokens/{mine_too.id}/budgets/{budget.id}/delete"
    assert member_client.post(wrong, headers=HX).status_code == 404
    response = member_client.post(f"{url}/{budget.id}/delete", headers=HX)
    assert response.status_code == 200 and f'id="budget-{prefix[7:]}"' not in response.get_data(
        as_text=True
    )


def test_member_cannot_use_admin_budget_routes_for_their_token_budget(member_client, member, admin):
    token = _token(member)
    budget = _make_budget(admin, "token", token.id)
    assert member_client.post(f"/admin/billing/budgets/{budget.id}/delete").status_code == 403


def test_members_see_who_pays_in_each_of_their_orgs(member_client, member, acme):
    globex = factories.make_org("globex", "Globex")
    globex.members_pay = True
    db.session.commit()
    factories.add_member(acme, member)
    factories.add_member(globex, member)
    body = member_client.get("/account/credits", headers=HX).get_data(as_text=True)
    assert "Acme — paid by the organization" in body
    assert "Globex — paid from this balance" in body
