"""What the call service adds to a call: settings, key resolution, retries bookkeeping, the
usage-record write and — with ``--budgets`` — a credit balance and a hard budget (reservation
before the call, settlement after), measured against a raw SDK call to the same loopback fake
upstream. Also counts the SQL statements per call.

Raw and service calls alternate, so both see the same machine load; so does a third
reference, ``commit_p50_ms``: one durable one-row commit on the same database, the floor a
call that writes its usage record cannot go below (on a busy disk it dominates PostgreSQL's
figures); ``--fresh-session``
gives every service call a new database session, as each web request has (otherwise the one
session of the script keeps what it loaded).

Usage: .venv/bin/python bench/service_overhead.py [--engine sqlite|postgresql] [--calls 500]
       [--budgets] [--fresh-session]
The last line is the figures as name=value pairs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai
import sqlalchemy as sa

from bench._support import bench_app, pct
from tests.fake_upstream import FakeUpstream
from webapp.extensions import db
from webapp.models import Provider, UsageRecord, User
from webapp.services import llm
from webapp.services.billing import budgets, ledger
from webapp.services.credentials import allowed_hosts
from webapp.services.credentials import storage as credentials
from webapp.services.credentials.origins import origin_of

KEY = "sk-bench-key-0000000001"
MESSAGES = [{"role": "user", "content": "Hello"}]


def timed(fns, n: int) -> list[list[float]]:  # type: ignore[no-untyped-def]
    """Milliseconds of ``n`` runs of each function, taken in turn (A B A B …)."""
    for _ in range(20):  # warm-up: connections, caches
        for fn in fns:
            fn()
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for fn, times in zip(fns, out, strict=True):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--budgets", action="store_true", help="a balance and a hard budget")
    parser.add_argument(
        "--fresh-session", action="store_true", help="a new database session for every call"
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with FakeUpstream() as fake, bench_app(args.engine):
        provider = db.session.scalar(sa.select(Provider).where(Provider.slug == "openai"))
        provider.base_url = fake.openai_base_url
        admin = User(email="bench@example.com", password_hash="x", role="admin")
        db.session.add(admin)
        db.session.commit()
        provider.env_key_origin = origin_of(fake.openai_base_url)
        db.session.commit()
        allowed_hosts.add_allowed_host(admin, fake.base_url.removeprefix("http://"))
        credentials.create_credential(
            admin, credentials.GLOBAL, provider.id, credentials.CredentialInput(secret=KEY)
        )
        if args.budgets:
            ledger.post_entry(
                admin, ledger.Owner("user", admin.id), Decimal(1000), kind="grant", note=None
            )
            budgets.create_budget(
                admin,
                budgets.BudgetOwner("user", admin.id),
                budgets.BudgetInput("monthly", "usd", "1000", hard=True),
            )
        raw_client = openai.OpenAI(api_key=KEY, base_url=fake.openai_base_url, max_retries=0)

        def raw() -> None:
            raw_client.chat.completions.create(
                model="gpt-5.4-mini", messages=MESSAGES, max_completion_tokens=4096
            )

        def service() -> None:
            llm.complete(MESSAGES, context=llm.CallContext(user=admin))
            if args.fresh_session:
                db.session.remove()  # what the end of a web request does

        flush_table = sa.Table(
            "bench_commit", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True)
        )
        flush_table.create(db.engine)

        def commit() -> None:
            with db.engine.begin() as connection:
                connection.execute(flush_table.insert())

        raw_ms, service_ms, commit_ms = timed([raw, service, commit], args.calls)
        # What each call costs the database: statements (those run on the driver's own
        # cursor included: side_writes announces them to these listeners), transactions
        # committed — by a COMMIT, or by a statement run in autocommit, which commits on its
        # own without that round trip — and pool checkouts (each one a ping, with
        # pool_pre_ping).
        statements, commits, checkouts = [0], [0], [0]

        def count(connection: sa.Connection, *_: object) -> None:
            statements[0] += 1
            if getattr(connection.connection.driver_connection, "autocommit", None) is True:
                commits[0] += 1

        def commit_seen(*_: object) -> None:
            commits[0] += 1

        def checkout_seen(*_: object) -> None:
            checkouts[0] += 1

        sa.event.listen(db.engine, "before_cursor_execute", count)  # service calls only
        sa.event.listen(db.engine, "commit", commit_seen)
        sa.event.listen(db.engine.pool, "checkout", checkout_seen)
        for _ in range(50):
            service()
        sa.event.remove(db.engine, "before_cursor_execute", count)
        sa.event.remove(db.engine, "commit", commit_seen)
        sa.event.remove(db.engine.pool, "checkout", checkout_seen)
        records = db.session.scalar(sa.select(sa.func.count()).select_from(UsageRecord))
        assert records == args.calls + 20 + 50, records
        figures = {
            "engine": args.engine,
            "budgets": "on" if args.budgets else "off",
            "session": "fresh" if args.fresh_session else "kept",
            "calls": args.calls,
            "raw_p50_ms": f"{pct(raw_ms, 0.5):.2f}",
            "raw_p99_ms": f"{pct(raw_ms, 0.99):.2f}",
            "service_p50_ms": f"{pct(service_ms, 0.5):.2f}",
            "service_p99_ms": f"{pct(service_ms, 0.99):.2f}",
            "overhead_p50_ms": f"{pct(service_ms, 0.5) - pct(raw_ms, 0.5):.2f}",
            "overhead_p99_ms": f"{pct(service_ms, 0.99) - pct(raw_ms, 0.99):.2f}",
            "sql_per_call": f"{statements[0] / 50:.1f}",
            "commits_per_call": f"{commits[0] / 50:.1f}",
            "checkouts_per_call": f"{checkouts[0] / 50:.1f}",
            "commit_p50_ms": f"{pct(commit_ms, 0.5):.2f}",
        }
        print(f"{args.calls} calls each; {records} usage records written by the service")
        print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
