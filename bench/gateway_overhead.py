"""What a gateway request costs in this process: CPU (this thread only, so the loopback
fake upstream's threads are not counted) and wall time per request, for a raw SDK call, the
call service (``llm.complete``) and ``POST /v1/chat/completions`` through the WSGI app
(test client: no HTTP server, so the server's own parsing is not included). Also counts SQL
statements per gateway request.

Usage: .venv/bin/python bench/gateway_overhead.py [--engine sqlite|postgresql] [--calls 500]
       [--stream] [--limits]
The last line is the figures as name=value pairs.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai
import sqlalchemy as sa

from bench._support import bench_app, pct
from tests.fake_upstream import FakeUpstream
from webapp.extensions import db
from webapp.models import AccessToken, Provider, User
from webapp.services import llm
from webapp.services.credentials import allowed_hosts
from webapp.services.credentials import storage as credentials
from webapp.services.credentials.origins import origin_of
from webapp.services.tokens.secrets import new_secret

KEY = "sk-bench-key-0000000001"
MESSAGES = [{"role": "user", "content": "Hello"}]


def timed(fn, n: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    for _ in range(30):  # warm-up: connections, caches
        fn()
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--stream", action="store_true", help="streamed replies")
    parser.add_argument("--limits", action="store_true", help="token RPM and TPM limits")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with FakeUpstream() as fake, bench_app(args.engine) as app:
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
        secret = new_secret()
        limits = {"requests_per_minute": 10**6, "tokens_per_minute": 10**9} if args.limits else {}
        db.session.add(
            AccessToken(
                user_id=admin.id,
                name="bench",
                prefix=secret.prefix,
                token_hash=secret.token_hash,
                **limits,
            )
        )
        db.session.commit()
        admin_id = admin.id
        raw_client = openai.OpenAI(api_key=KEY, base_url=fake.openai_base_url, max_retries=0)
        body = {"model": "openai/gpt-5.4-mini", "messages": MESSAGES}
        if args.stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        payload = json.dumps(body)
        headers = {"Authorization": f"Bearer {secret.secret}", "Content-Type": "application/json"}
        client = app.test_client()

        def raw() -> None:
            if args.stream:
                for _ in raw_client.chat.completions.create(
                    model="gpt-5.4-mini", messages=MESSAGES, stream=True
                ):
                    pass
            else:
                raw_client.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES)

        def service() -> None:
            user = db.session.get(User, admin_id)
            if args.stream:
                for _ in llm.stream(MESSAGES, context=llm.CallContext(user=user)):
                    pass
            else:
                llm.complete(MESSAGES, context=llm.CallContext(user=user))
            db.session.remove()

        def gateway() -> None:
            response = client.post("/v1/chat/completions", data=payload, headers=headers)
            response.get_data()
            assert response.status_code == 200, response.get_data(as_text=True)

        deadline = time.monotonic() + 30  # the schema check is cached for a few seconds
        while client.get("/v1/models", headers=headers).status_code == 503:
            assert time.monotonic() < deadline, "the app still answers 503"
            time.sleep(0.5)
        raw_wall, raw_cpu = timed(raw, args.calls)
        service_wall, service_cpu = timed(service, args.calls)
        gateway_wall, gateway_cpu = timed(gateway, args.calls)
        statements = [0]

        def count(*_: object) -> None:
            statements[0] += 1

        sa.event.listen(db.engine, "before_cursor_execute", count)
        for _ in range(50):
            gateway()
        sa.event.remove(db.engine, "before_cursor_execute", count)
        figures = {
            "engine": args.engine,
            "mode": "stream" if args.stream else "json",
            "limits": "on" if args.limits else "off",
            "calls": args.calls,
            "raw_cpu_ms": f"{statistics.median(raw_cpu):.2f}",
            "service_cpu_ms": f"{statistics.median(service_cpu):.2f}",
            "gateway_cpu_ms": f"{statistics.median(gateway_cpu):.2f}",
            "gateway_minus_service_cpu_ms": (
                f"{statistics.median(gateway_cpu) - statistics.median(service_cpu):.2f}"
            ),
            "raw_p50_ms": f"{pct(raw_wall, 0.5):.2f}",
            "service_p50_ms": f"{pct(service_wall, 0.5):.2f}",
            "gateway_p50_ms": f"{pct(gateway_wall, 0.5):.2f}",
            "gateway_p99_ms": f"{pct(gateway_wall, 0.99):.2f}",
            "sql_per_gateway_request": f"{statements[0] / 50:.1f}",
        }
        print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
