"""What the call service adds to a call: settings, key resolution, retries bookkeeping and the
usage-record write, measured against a raw SDK call to the same loopback fake upstream.

Usage: .venv/bin/python bench/service_overhead.py [--engine sqlite|postgresql] [--calls 500]
The last line is the figures as name=value pairs.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai
import sqlalchemy as sa

from bench._support import bench_app
from tests.fake_upstream import FakeUpstream
from webapp.extensions import db
from webapp.models import Provider, UsageRecord, User
from webapp.services import llm
from webapp.services.credentials import storage as credentials

KEY = "sk-bench-key-0000000001"
MESSAGES = [{"role": "user", "content": "Hello"}]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1]


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    for _ in range(20):  # warm-up: connections, caches
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with FakeUpstream() as fake, bench_app(args.engine):
        provider = db.session.scalar(sa.select(Provider).where(Provider.slug == "openai"))
        provider.base_url = fake.openai_base_url
        admin = User(email="bench@example.com", password_hash="x", role="admin")
        db.session.add(admin)
        db.session.commit()
        credentials.create_credential(
            admin, credentials.GLOBAL, provider.id, credentials.CredentialInput(secret=KEY)
        )
        raw_client = openai.OpenAI(api_key=KEY, base_url=fake.openai_base_url, max_retries=0)

        def raw() -> None:
            raw_client.chat.completions.create(
                model="gpt-5.4-mini", messages=MESSAGES, max_completion_tokens=4096
            )

        def service() -> None:
            llm.complete(MESSAGES, context=llm.CallContext(user=admin))

        raw_ms = timed(raw, args.calls)
        service_ms = timed(service, args.calls)
        records = db.session.scalar(sa.select(sa.func.count()).select_from(UsageRecord))
        assert records == args.calls + 20, records
        figures = {
            "engine": args.engine,
            "calls": args.calls,
            "raw_p50_ms": f"{pct(raw_ms, 0.5):.2f}",
            "raw_p99_ms": f"{pct(raw_ms, 0.99):.2f}",
            "service_p50_ms": f"{pct(service_ms, 0.5):.2f}",
            "service_p99_ms": f"{pct(service_ms, 0.99):.2f}",
            "overhead_p50_ms": f"{pct(service_ms, 0.5) - pct(raw_ms, 0.5):.2f}",
            "overhead_p99_ms": f"{pct(service_ms, 0.99) - pct(raw_ms, 0.99):.2f}",
        }
        print(f"{args.calls} calls each; {records} usage records written by the service")
        print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
