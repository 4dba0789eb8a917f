"""``flask credits check`` (every balance equals its ledger, every ``reserved`` its live
reservations) and ``flask credits grant``."""

from __future__ import annotations

import click
import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Organization, Role, User
from webapp.services.accounts import users
from webapp.services.billing import ledger
from webapp.services.errors import ValidationError


@click.group("credits")
def credits_group() -> None:
    """Credit balances and their ledger."""


@credits_group.command("check")
def credits_check() -> None:
    """Recompute every balance from the ledger and every reserved amount from the live
    reservations; list differences (exit status 1 if any)."""
    mismatches = ledger.check_balances()
    for m in mismatches:
        click.echo(f"account {m.account_id}: balance {m.balance:f} but ledger sums to {m.ledger:f}")
    held = ledger.check_reserved()
    for h in held:
        click.echo(
            f"account {h.account_id}: reserved {h.reserved.normalize():f} "
            f"but its reservations hold {h.held.normalize():f}"
        )
    click.echo(f"accounts_with_differences={len(mismatches)} reserved_differences={len(held)}")
    if mismatches or held:
        raise SystemExit(1)


@credits_group.command("grant")
@click.argument("owner")
@click.argument("amount")
@click.option("--note", default="granted from the command line")
def credits_grant(owner: str, amount: str, note: str) -> None:
    """Grant AMOUNT credits to OWNER: a user's email or ``org:SLUG``."""
    actor = db.session.scalar(
        sa.select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id)
    )
    if actor is None:
        raise click.ClickException("No active admin exists to record the grant for.")
    if owner.startswith("org:"):
        org = db.session.scalar(sa.select(Organization).where(Organization.slug == owner[4:]))
        if org is None:
            raise click.ClickException(f"No organization {owner[4:]!r}.")
        target = ledger.Owner("org", org.id)
    else:
        user = users.find_by_email(owner)
        if user is None:
            raise click.ClickException(f"No user {owner!r}.")
        target = ledger.Owner("user", user.id)
    try:
        entry = ledger.post_entry(
            actor, target, ledger.parse_amount(amount), kind="grant", note=note
        )
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"granted {entry.amount:f}; balance {entry.balance_after:f}")
