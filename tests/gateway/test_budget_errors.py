"""A call a budget or a balance refuses is a 402 ``budget_exceeded`` on both protocols, and
says which limit refused it: whose budget and which period, its limit, and when it resets
(ISO 8601), with ``Retry-After`` until then for a periodic budget."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from tests.gateway.support import make_token
from webapp.models.base import utcnow
from webapp.services.billing import budgets, ledger
from webapp.services.billing.periods import next_reset

MINI = "openai/gpt-5.4-mini"
HI = [{"role": "user", "content": "Hi"}]
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


def _post(client, protocol: str, secret: str, stream: bool):  # type: ignore[no-untyped-def]
    body = {"model": MINI, "messages": HI, "max_tokens": 10, "stream": stream}
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    return client.post(PATHS[protocol], data=json.dumps(body), headers=headers)


def _budget_of(response, protocol: str) -> dict:  # type: ignore[no-untyped-def]
    error = response.get_json()["error"]
    if protocol == "anthropic":
        assert error["type"] == "billing_error"
    else:
        assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
    return error["budget"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.parametrize(("owner", "period"), [("token", "daily"), ("user", "monthly")])
def test_a_periodic_budget_says_which_its_limit_and_when_it_resets(
    wired, client, admin, member, protocol, stream, owner, period
):
    token, secret = make_token(member)
    owner_id = token.id if owner == "token" else member.id
    budget = budgets.create_budget(
        admin,
        budgets.BudgetOwner(owner, owner_id),
        budgets.BudgetInput(period, "usd", "0.000001", hard=True),
    )
    before = utcnow()
    response = _post(client, protocol, secret, stream)
    assert response.status_code == 402
    found = _budget_of(response, protocol)
    resets = next_reset(period, "UTC", before)
    assert resets is not None
    assert found == {
        "kind": "budget",
        "scope": owner,
        "budget_id": budget.id,
        "period": period,
        "limit": "0.000001",
        "unit": "usd",
        "resets_at": resets.isoformat().replace("+00:00", "Z"),
    }
    assert datetime.fromisoformat(found["resets_at"]) == resets
    wait = int(response.headers["Retry-After"])
    assert abs(before + timedelta(seconds=wait) - resets) <= timedelta(seconds=5)
    assert not wired.requests_to("openai.chat")


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_total_budget_never_resets_and_has_no_retry_after(wired, client, admin, member, protocol):
    _, secret = make_token(member)
    budgets.create_budget(
        admin,
        budgets.BudgetOwner("user", member.id),
        budgets.BudgetInput("total", "credits", "0.000002", hard=True),
    )
    response = _post(client, protocol, secret, False)
    found = _budget_of(response, protocol)
    assert (found["period"], found["unit"], found["resets_at"]) == ("total", "credits", None)
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_balance_that_cannot_pay_is_named_as_such(wired, client, admin, member, protocol):
    _, secret = make_token(member)
    ledger.post_entry(
        admin, ledger.Owner("user", member.id), Decimal("0.000001"), kind="grant", note=None
    )
    response = _post(client, protocol, secret, False)
    assert response.status_code == 402
    found = _budget_of(response, protocol)
    assert (found["kind"], found["scope"], found["resets_at"]) == ("credits", "user", None)
    assert "Retry-After" not in response.headers


def test_the_api_shows_the_same_details_in_its_problem(app):
    """The management API answers a budget_exceeded (from any service it calls) with the
    same details, as problem+json."""
    from webapp.api.core import _service_error
    from webapp.services.errors import BudgetExceeded

    resets = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    limit = {
        "kind": "budget",
        "scope": "org",
        "budget_id": 3,
        "period": "daily",
        "limit": "5",
        "unit": "usd",
        "resets_at": resets.isoformat().replace("+00:00", "Z"),
    }
    with app.test_request_context("/api/v1/x"):
        response = _service_error(BudgetExceeded("The org's daily budget…", limit=limit))
    body = response.get_json(force=True)
    assert response.status_code == 402 and response.mimetype == "application/problem+json"
    assert body["budget"] == limit and body["title"] == "Budget exceeded"
    assert 7100 <= int(response.headers["Retry-After"]) <= 7200
