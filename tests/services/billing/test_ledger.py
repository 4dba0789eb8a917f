"""The credits ledger: admins grant and adjust (audited), balances equal their ledger, and
what accounts say is reserved equals what their live reservations hold."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent, CreditAccount, CreditEntry, Reservation
from webapp.models.base import utcnow
from webapp.services.billing import ledger, reservations
from webapp.services.billing.plan import plan_for
from webapp.services.errors import PermissionDenied, ValidationError


def test_a_grant_opens_the_account_writes_a_line_and_is_audited(admin, member):
    entry = ledger.post_entry(
        admin, ledger.Owner("user", member.id), Decimal("25"), kind="grant", note="welcome"
    )
    assert entry.balance_after == Decimal("25") and entry.actor_id == admin.id
    view = ledger.view(ledger.Owner("user", member.id))
    assert view is not None and view.balance == 25 and view.available == 25
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "credits"))
    assert event.action == "grant" and event.diff["amount"]["after"] == "25"


def test_adjustments_take_either_sign_and_grants_only_add(admin, member):
    owner = ledger.Owner("user", member.id)
    ledger.post_entry(admin, owner, Decimal("10"), kind="grant", note=None)
    ledger.post_entry(admin, owner, Decimal("-3.5"), kind="adjustment", note="typo")
    assert ledger.view(owner).balance == Decimal("6.5")
    for kind, amount in (("grant", "-1"), ("refund", "-1"), ("expiry", "1"), ("adjustment", "0")):
        with pytest.raises(ValidationError):
            ledger.post_entry(admin, owner, Decimal(amount), kind=kind, note=None)


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", "1e12", "0.0000001", ""])
def test_amounts_as_typed_are_checked(raw):
    with pytest.raises(ValidationError):
        ledger.parse_amount(raw)


def test_only_admins_move_credits(member):
    with pytest.raises(PermissionDenied):
        ledger.post_entry(
            member, ledger.Owner("user", member.id), Decimal(5), kind="grant", note=None
        )


def test_credits_check_finds_a_balance_that_disagrees_with_its_ledger(admin, member, runner):
    org = factories.make_org("acme")
    ledger.post_entry(admin, ledger.Owner("org", org.id), Decimal("40"), kind="grant", note=None)
    assert ledger.check_balances() == []
    result = runner.invoke(args=["credits", "check"])
    assert result.exit_code == 0 and "accounts_with_differences=0" in result.output
    db.session.execute(sa.update(CreditAccount).values(balance=Decimal("41")))
    db.session.commit()
    (mismatch,) = ledger.check_balances()
    assert (mismatch.balance, mismatch.ledger) == (Decimal(41), Decimal(40))
    result = runner.invoke(args=["credits", "check"])
    assert result.exit_code == 1 and "ledger sums to 40" in result.output


def test_credits_check_finds_reserved_credits_that_no_reservation_holds(admin, member, runner):
    ledger.post_entry(
        admin, ledger.Owner("user", member.id), Decimal("10"), kind="grant", note=None
    )
    reservations.reserve(
        plan_for(member.id, None),
        "in-flight",
        usd=Decimal(0),
        credits=Decimal("3"),
        expires_at=utcnow() + timedelta(minutes=5),
        call={},
    )
    assert ledger.check_reserved() == []
    result = runner.invoke(args=["credits", "check"])
    assert result.exit_code == 0 and "reserved_differences=0" in result.output
    db.session.execute(sa.delete(Reservation))  # a hold whose reservation went missing
    db.session.commit()
    (stuck,) = ledger.check_reserved()
    assert (stuck.reserved, stuck.held) == (Decimal(3), Decimal(0))
    assert ledger.check_balances() == []  # the balance itself is right
    result = runner.invoke(args=["credits", "check"])
    assert result.exit_code == 1
    assert "reserved 3 but its reservations hold 0" in result.output
    assert "accounts_with_differences=0 reserved_differences=1" in result.output


def test_credits_grant_command(admin, member, runner):
    result = runner.invoke(args=["credits", "grant", member.email, "12.5"])
    assert result.exit_code == 0 and "balance 12.5" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditEntry)) == 1
