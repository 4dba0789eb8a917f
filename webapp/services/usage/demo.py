"""Demo data for a fresh installation: organizations, people in both modes with fake
(encrypted) keys for the BYOK ones, features, credit grants, budgets, and usage records with
daily and weekly rhythms (services/usage/synthetic.py), rolled up set-based in the
transaction that writes them."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from webapp.extensions import db
from webapp.models import Role, User
from webapp.services.billing import budgets, ledger
from webapp.services.credentials import storage as credentials
from webapp.services.errors import Conflict, ServiceError
from webapp.services.usage import synthetic

FEATURES = ["support-bot", "summaries", "code-review", "search", "translate"]


@dataclass(frozen=True)
class DemoResult:
    users: int
    orgs: int
    records: int
    password: str


def _admin() -> User:
    admin = db.session.scalar(
        sa.select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id)
    )
    if admin is None:
        raise ServiceError("Create an admin first (flask --app wsgi create-user …).")
    return admin


def _fake_keys(actor: User, people: list[synthetic.Person], limit: int = 25) -> None:
    """A fake, encrypted key for BYOK people (never a real one: calls with it would fail)."""
    provider_id = synthetic.model_choices(1)[0].provider_id
    for person in [p for p in people if p.mode == "byok"][:limit]:
        owner_user = db.session.get(User, person.user_id)
        assert owner_user is not None
        credentials.create_credential(
            owner_user,
            credentials.user_owner(person.user_id),
            provider_id,
            credentials.CredentialInput(secret=f"sk-demo-{secrets.token_hex(16)}"),
        )
    del actor


def _money(actor: User, people: list[synthetic.Person]) -> None:
    orgs = sorted({p.org_id for p in people if p.org_id})
    for org_id in orgs:
        ledger.post_entry(
            actor, ledger.Owner("org", org_id), Decimal(500), kind="grant", note="demo"
        )
        budgets.create_budget(
            actor, budgets.BudgetOwner("org", org_id), budgets.BudgetInput("monthly", "usd", "200")
        )
    for person in [p for p in people if p.mode == "managed"][:30]:
        ledger.post_entry(
            actor, ledger.Owner("user", person.user_id), Decimal(50), kind="grant", note="demo"
        )
        budgets.create_budget(
            actor,
            budgets.BudgetOwner("user", person.user_id),
            budgets.BudgetInput("daily", "credits", "5", hard=False),
        )


def fill(
    *,
    records: int = 50_000,
    users: int = 60,
    orgs: int = 5,
    days: int = 90,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> DemoResult:
    """Write the demo data; refuses a database holding records it did not make (``force``)."""
    if not force and synthetic.holds_foreign_records():
        raise Conflict(
            "This database already holds real usage records; pass --force to add demo data."
        )
    actor = _admin()
    password = secrets.token_urlsafe(12)
    people = synthetic.make_people(
        users, orgs, password_hash=generate_password_hash(password), seed=secrets.randbits(32)
    )
    _fake_keys(actor, people)
    _money(actor, people)
    features = synthetic.feature_ids(FEATURES)
    models = synthetic.model_choices()
    rows = synthetic.records(
        records, people, models, features, days=days, seed=secrets.randbits(32)
    )
    synthetic.write_records(rows, expected=records, progress=progress)  # rollups in step
    return DemoResult(users, orgs, records, password)
