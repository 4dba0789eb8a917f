"""Budgets that hold under concurrency, proven across processes: 4 processes × 50 concurrent
calls against a credit balance that pays for exactly 20, then the same with a hard monthly
budget instead of a balance.

The fake upstream reports fixed usage and the calls set ``max_tokens`` so that a call's
reservation equals its cost. Exactly 20 must succeed and 180 be refused with
``budget_exceeded`` before reaching the upstream; the balance (or the budget's spend) must
end exactly at its limit, never beyond; the ledger must sum to the balance; every call must
have exactly one usage record.

Usage: .venv/bin/python bench/budget_race.py [--engine postgresql|sqlite] [--processes 4]
       [--calls 50] [--affordable 20]
The last line is the figures as name=value pairs.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench._support import bench_app
from tests.fake_upstream import FakeUpstream, Reply

PROMPT = [{"role": "user", "content": "x" * 16}]
OUTPUT = 7  # max_tokens, and what the fake upstream reports
SECRET_KEY = "bench-secret-key-0123456789"


def _worker(
    url: str, instance: str, user_id: int, calls: int, results: multiprocessing.Queue
) -> None:
    """One app process: ``calls`` concurrent calls; puts (succeeded, refused, other)."""
    os.environ["SWITCHBOARD_INSTANCE_PATH"] = instance
    logging.disable(logging.WARNING)
    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import llm
    from webapp.services.errors import BudgetExceeded

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SEED_ON_START": False, "SECRET_KEY": SECRET_KEY}
    )

    def one(_: int) -> str:
        with app.app_context():
            try:
                llm.complete(
                    PROMPT,
                    context=llm.CallContext(user=db.session.get(User, user_id)),
                    model="openai/gpt-5.4-mini",
                    overrides={"max_tokens": OUTPUT},
                )
                return "ok"
            except BudgetExceeded:
                return "refused"
            except Exception as exc:  # counted and shown: a bench must not hide failures
                return f"other:{type(exc).__name__}"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=calls) as pool:
        outcomes = list(pool.map(one, range(calls)))
    others = [o for o in outcomes if o.startswith("other")]
    results.put((outcomes.count("ok"), outcomes.count("refused"), others))


def _race(app, fake, url: str, instance: str, user_id: int, args) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import UsageRecord

    before = len(fake.requests_to("openai.chat"))
    db.session.execute(sa.delete(UsageRecord))
    db.session.commit()
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    workers = [
        context.Process(target=_worker, args=(url, instance, user_id, args.calls, results))
        for _ in range(args.processes)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    elapsed = time.perf_counter() - started
    records = db.session.scalar(sa.select(sa.func.count()).select_from(UsageRecord)) or 0
    total = args.processes * args.calls
    return {
        "succeeded": sum(o[0] for o in outcomes),
        "refused": sum(o[1] for o in outcomes),
        "other_errors": sum(len(o[2]) for o in outcomes),
        "other_kinds": ",".join(sorted({k for o in outcomes for k in o[2]})) or "none",
        "upstream_calls": len(fake.requests_to("openai.chat")) - before,
        "records_missing": total - records,
        "seconds": f"{elapsed:.1f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--affordable", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with FakeUpstream() as fake, bench_app(args.engine, SECRET_KEY=SECRET_KEY) as app:
        from webapp.extensions import db
        from webapp.models import CreditAccount, Provider, User
        from webapp.services.billing import budgets, ledger
        from webapp.services.credentials import allowed_hosts
        from webapp.services.credentials import storage as credentials
        from webapp.services.credentials.origins import origin_of

        url = app.config["SQLALCHEMY_DATABASE_URI"]
        instance = app.instance_path
        admin = User(email="bench-admin@example.com", password_hash="x", role="admin")
        member = User(email="bench-member@example.com", password_hash="x", role="member")
        db.session.add_all([admin, member])
        provider = db.session.scalar(sa.select(Provider).where(Provider.slug == "openai"))
        provider.base_url = fake.openai_base_url
        provider.env_key_origin = origin_of(fake.openai_base_url)
        db.session.commit()
        allowed_hosts.add_allowed_host(admin, fake.base_url.removeprefix("http://"))
        credentials.create_credential(
            admin,
            credentials.GLOBAL,
            provider.id,
            credentials.CredentialInput(secret="sk-bench-key-000000000001"),
        )
        # The fake reports as many input tokens as a hold estimates (the prompt's bound), so a
        # call's hold is its cost: input × 0.75 + 7 × 4.50 per million, gpt-5.4-mini.
        from webapp.services.llm.calls import Sent
        from webapp.services.llm.types import to_messages

        prompt = Sent(tuple(to_messages(PROMPT))).prompt_bound()
        cost = (prompt * Decimal("0.75") + OUTPUT * Decimal("4.50")) / 1_000_000
        for _ in range(args.processes * args.calls * 2):
            fake.script("openai.chat", Reply.ok(usage={"input": prompt, "output": OUTPUT}))
        limit = cost * args.affordable

        owner = ledger.Owner("user", member.id)
        ledger.post_entry(admin, owner, limit, kind="grant", note="budget race")
        balance_run = _race(app, fake, url, instance, member.id, args)
        db.session.rollback()
        account = db.session.scalar(sa.select(CreditAccount))
        balance_run["overspend_usd"] = f"{max(Decimal(0), -Decimal(account.balance)):f}"
        balance_run["ledger_mismatch"] = len(ledger.check_balances())
        balance_run["reserved_left"] = f"{Decimal(account.reserved):f}"

        # The same against a hard monthly budget alone (the credit account removed).
        budget_owner = budgets.BudgetOwner("user", member.id)
        _remove_credit_account()
        budgets.create_budget(
            admin, budget_owner, budgets.BudgetInput("monthly", "usd", str(limit), hard=True)
        )
        budget_run = _race(app, fake, url, instance, member.id, args)
        (status,) = budgets.statuses(budget_owner)
        budget_run["overspend_usd"] = f"{max(Decimal(0), status.spent - limit):f}"
        budget_run["reserved_left"] = f"{status.reserved:f}"

        print(
            f"{args.processes} processes × {args.calls} concurrent calls, "
            f"{args.affordable} affordable, on {args.engine}"
        )
        for name, run in (("balance", balance_run), ("budget", budget_run)):
            print(f"  {name}: " + " ".join(f"{k}={v}" for k, v in run.items()))
        figures = {f"{k}": v for k, v in balance_run.items() if k != "seconds"}
        figures.update({f"budget_{k}": v for k, v in budget_run.items() if k != "seconds"})
        print(" ".join(f"{k}={v}" for k, v in figures.items()))


def _remove_credit_account() -> None:
    """Without an account the member's calls are limited by the budget alone."""
    from webapp.extensions import db
    from webapp.models import CreditAccount, CreditEntry
    from webapp.services.settings.cache import bump_settings_version

    db.session.execute(sa.delete(CreditEntry))
    db.session.execute(sa.delete(CreditAccount))
    bump_settings_version()
    db.session.commit()


if __name__ == "__main__":
    main()
