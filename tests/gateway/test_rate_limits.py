"""Requests and tokens per minute, per token, user and org; shared through Redis."""

from __future__ import annotations

import json
import socket
import uuid

import pytest

from tests import factories
from tests.gateway.support import make_token
from webapp.extensions import limiter
from webapp.gateway import rate_limits
from webapp.services.tokens import auth

REDIS_URL = "redis://127.0.0.1:6379/0"
HI = [{"role": "user", "content": "Hi"}]


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


def _chat(client, secret):  # type: ignore[no-untyped-def]
    return client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": HI}),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )


@pytest.mark.app_config(GATEWAY_USER_RPM=3, GATEWAY_ORG_TPM=30)
def test_user_and_org_limits_apply_across_the_users_tokens(wired, client, member):
    org = factories.make_org("acme")
    factories.add_member(org, member)
    _, first = make_token(member, name="one", org_id=org.id)
    _, second = make_token(member, name="two", org_id=org.id)
    response = _chat(client, first)
    assert response.status_code == 200
    assert response.headers["x-ratelimit-limit-requests"] == "3"
    assert response.headers["x-ratelimit-remaining-tokens"] == "11"  # 30 - 19 metered
    assert _chat(client, second).status_code == 200  # 38 tokens now: over the org's 30
    response = _chat(client, second)
    assert response.status_code == 429
    assert "tokens per minute of this org" in response.get_json()["error"]["message"]
    assert int(response.headers["Retry-After"]) >= 1
    assert len(wired.requests_to("openai.chat")) == 2


@pytest.mark.app_config(GATEWAY_USER_RPM=2)
def test_the_user_limit_counts_requests_of_every_token(wired, client, member):
    _, first = make_token(member, name="one")
    _, second = make_token(member, name="two")
    assert _chat(client, first).status_code == 200
    assert _chat(client, second).status_code == 200
    response = _chat(client, first)
    assert response.status_code == 429
    assert "requests per minute of this user" in response.get_json()["error"]["message"]


@pytest.fixture
def redis_prefix():  # type: ignore[no-untyped-def]
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"sbtest-{uuid.uuid4().hex[:12]}"
    yield prefix
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"*{prefix}*"):
        connection.delete(key)


def test_counts_live_in_redis_where_every_process_sees_them(app, member, redis_prefix):
    from limits.storage import storage_from_string

    app.config["RATELIMIT_KEY_PREFIX"] = redis_prefix
    _, secret = make_token(member, requests_per_minute=2, tokens_per_minute=100)
    identity = auth.authenticate(secret)
    first, second = storage_from_string(REDIS_URL), storage_from_string(REDIS_URL)
    saved = limiter._storage
    try:
        limiter._storage = first  # one worker process …
        budget = rate_limits.admit(identity)
        rate_limits.count_tokens(budget, 60)
        rate_limits.admit(identity)
        limiter._storage = second  # … and another, with nothing of the first in memory
        with pytest.raises(rate_limits.RateLimitHit) as excinfo:
            rate_limits.admit(identity)
        assert excinfo.value.budget.tokens == (100, 40)
    finally:
        limiter._storage = saved
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(f"*{redis_prefix}/gateway/*"))
    assert len(keys) == 2  # requests and tokens of this token, this minute
    assert all(0 < connection.ttl(key) <= 2 * rate_limits.WINDOW_S for key in keys)


def test_a_failing_counter_store_is_a_503_not_a_500_and_never_fails_a_finished_reply(
    wired, client, member, monkeypatch
):
    """Redis down or out of connections: a limited token's call is refused with the protocol's
    503 (and Retry-After) before anything is sent; counting tokens after a reply only logs."""
    _, secret = make_token(member, requests_per_minute=100, tokens_per_minute=10_000)

    class Broken:
        def get(self, *_a, **_k):  # type: ignore[no-untyped-def]
            raise ConnectionError("Too many connections")

        incr = get

    monkeypatch.setattr(type(limiter), "storage", property(lambda self: Broken()))
    response = _chat(client, secret)
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "Rate limits cannot be checked" in response.get_json()["error"]["message"]
    assert wired.requests_to("openai.chat") == []
    budget = rate_limits.Budget(
        [rate_limits.Scope("token", "t1", 100, 10_000)], minute=1, reset_s=30
    )
    rate_limits.count_tokens(budget, 50)  # logs, does not raise


def test_tokens_reach_redis_without_a_round_trip_of_their_own(
    app, member, redis_prefix, monkeypatch
):
    """A call's tokens ride on the next admission's script call; with no next request, a
    background flush adds them within a second; either way other processes see them."""
    import time

    import redis
    from limits.storage import storage_from_string

    monkeypatch.setattr(rate_limits._Unsent, "FLUSH_S", 0.05)
    app.config["RATELIMIT_KEY_PREFIX"] = redis_prefix
    _, secret = make_token(member, tokens_per_minute=1000)
    identity = auth.authenticate(secret)
    storage = storage_from_string(REDIS_URL)
    saved = limiter._storage
    connection = redis.Redis.from_url(REDIS_URL)

    def stored() -> int:
        keys = list(connection.scan_iter(f"*{redis_prefix}/gateway/tokens/*"))
        return sum(int(connection.get(k) or 0) for k in keys)

    try:
        limiter._storage = storage
        budget = rate_limits.admit(identity)
        rate_limits.count_tokens(budget, 70)
        assert budget.tokens == (1000, 930)  # the reply's headers count this call already
        for _ in range(100):  # the flush thread
            if stored() == 70:
                break
            time.sleep(0.02)
        assert stored() == 70
        flusher = rate_limits._unsent._flusher
        if flusher is not None:
            flusher.join(timeout=5)  # it ends once it finds nothing more to send
        assert rate_limits._unsent._flusher is None
        monkeypatch.setattr(rate_limits._Unsent, "FLUSH_S", 30.0)  # the next add's flusher
        rate_limits.count_tokens(budget, 30)
        assert stored() == 70  # not sent yet …
        assert rate_limits.admit(identity).tokens == (1000, 900)  # … read after it is added
        assert stored() == 100
    finally:
        limiter._storage = saved
        rate_limits._unsent.take()
