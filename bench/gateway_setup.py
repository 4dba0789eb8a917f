"""Prepare a Switchboard database for a load test of the gateway: the OpenAI provider
pointed at a loopback mock, its host allowed, a global key, a user with a credit balance and
a hard monthly budget (so every call holds and settles money), and an access token with
request and token rate limits (so every call is counted) — printed on the last line. Run
after ``flask db upgrade`` with the same environment."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from webapp import create_app
from webapp.extensions import db
from webapp.models import AccessToken, Provider, User
from webapp.services.billing import budgets, ledger
from webapp.services.credentials import allowed_hosts
from webapp.services.credentials import storage as credentials
from webapp.services.credentials.origins import origin_of
from webapp.services.tokens.secrets import new_secret


def main() -> None:
    upstream = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9000/v1"
    app = create_app()
    with app.app_context():
        provider = db.session.scalar(sa.select(Provider).where(Provider.slug == "openai"))
        provider.base_url = upstream
        provider.env_key_origin = origin_of(upstream)
        admin = db.session.scalar(sa.select(User).where(User.email == "bench@example.com"))
        if admin is None:
            admin = User(email="bench@example.com", password_hash="x", role="admin")
            db.session.add(admin)
        db.session.commit()
        host = upstream.split("://", 1)[1].split("/", 1)[0]
        try:
            allowed_hosts.add_allowed_host(admin, host)
        except Exception:  # already allowed on a second run
            db.session.rollback()
        credentials.create_credential(
            admin,
            credentials.GLOBAL,
            provider.id,
            credentials.CredentialInput(
                secret="sk-bench-key-0000000001", label=new_secret().prefix
            ),
        )
        ledger.post_entry(
            admin, ledger.Owner("user", admin.id), Decimal(10**6), kind="grant", note=None
        )
        budgets.create_budget(
            admin,
            budgets.BudgetOwner("user", admin.id),
            budgets.BudgetInput("monthly", "usd", "100000", hard=True),
        )
        secret = new_secret()
        db.session.add(
            AccessToken(
                user_id=admin.id,
                name="bench",
                prefix=secret.prefix,
                token_hash=secret.token_hash,
                requests_per_minute=10**7,  # never reached: counted, not refused
                tokens_per_minute=2 * 10**9,
            )
        )
        db.session.commit()
        print(secret.secret)


if __name__ == "__main__":
    main()
