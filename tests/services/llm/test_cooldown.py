"""A model that keeps failing cools down: calls go straight to fallbacks (its siblings on the
same provider included), fail fast without one, and after the rest one call probes and
restores it. The provider cools down only when the failures are its own: across models, or
when it cannot be reached at all. Counts are atomic and shared by every process."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import ProviderHealth, User
from webapp.models.base import utcnow
from webapp.services import llm
from webapp.services.catalog import snapshot
from webapp.services.llm import cooldown, errors
from webapp.services.settings import layers as settings_service

HI = [{"role": "user", "content": "Hi"}]
MINI, NANO = "openai/gpt-5.4-mini", "openai/gpt-5.4-nano"
FALLBACK = "anthropic/claude-haiku-4-5"


def set_global(**values):  # type: ignore[no-untyped-def]
    settings_service.update_settings(None, settings_service.parameter_set_for("global"), values)


def fail(wired, member, *models: str) -> None:  # type: ignore[no-untyped-def]
    """One 503 for each model named, in order, with no retries."""
    set_global(max_retries=0)
    wired.script("openai.chat", *[Reply.error(503, "overloaded")] * len(models))
    for model in models:
        with pytest.raises(errors.Unavailable):
            llm.complete(HI, context=llm.CallContext(user=member), model=model)


def fail_five_times(wired, member) -> None:  # type: ignore[no-untyped-def]
    fail(wired, member, *[MINI] * 5)


def fail_across_models(wired, member) -> None:  # type: ignore[no-untyped-def]
    """Five outages of one model (it rests), then one of another: the provider's own."""
    fail(wired, member, *[MINI] * 5, NANO)


def cooling() -> set[str]:
    return {h.model_key for h in cooldown.cooling_down()}


def later(monkeypatch, seconds: float) -> None:  # type: ignore[no-untyped-def]
    moved = utcnow() + timedelta(seconds=seconds)
    monkeypatch.setattr(cooldown, "utcnow", lambda: moved)
    cooldown.reset()


@pytest.mark.app_config(COOLDOWN_S=30.0)
def test_five_outages_of_one_model_cool_that_model_down(wired, member, monkeypatch):
    fail_five_times(wired, member)
    assert len(wired.requests_to("openai.chat")) == 5
    assert cooling() == {"gpt-5.4-mini"}  # not the whole provider
    with pytest.raises(errors.Unavailable, match="cooling down after repeated failures"):
        llm.complete(HI, context=llm.CallContext(user=member), model=MINI)
    assert len(wired.requests_to("openai.chat")) == 5  # failed fast, nothing sent

    set_global(fallback_models=[FALLBACK])
    reply = llm.complete(HI, context=llm.CallContext(user=member), model=MINI)
    assert reply.model == FALLBACK and len(wired.requests_to("openai.chat")) == 5
    assert {a["status"] for a in reply.attempts} >= {"skipped"}

    later(monkeypatch, 31)
    set_global(fallback_models=None)
    reply = llm.complete(HI, context=llm.CallContext(user=member), model=MINI)  # the probe
    assert reply.model == MINI
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProviderHealth)) == 0


def test_one_models_outage_leaves_its_siblings_on_the_provider_serving(wired, member):
    fail_five_times(wired, member)
    set_global(fallback_models=[NANO, FALLBACK])
    reply = llm.complete(HI, context=llm.CallContext(user=member), model=MINI)
    assert reply.model == NANO  # same provider: not blocked by its sibling's trouble
    assert llm.complete(HI, context=llm.CallContext(user=member), model=NANO).model == NANO


def test_failures_across_two_models_cool_the_whole_provider(wired, member):
    fail(wired, member, MINI, NANO, MINI, NANO, MINI)
    assert "" in cooling()  # the provider row
    with pytest.raises(errors.Unavailable, match="OpenAI is cooling down"):
        llm.complete(HI, context=llm.CallContext(user=member), model="openai/gpt-5.5")
    set_global(fallback_models=[FALLBACK])
    reply = llm.complete(HI, context=llm.CallContext(user=member), model="openai/gpt-5.5")
    assert reply.model == FALLBACK
    health = db.session.scalar(sa.select(ProviderHealth).where(ProviderHealth.model_key == ""))
    assert health is not None and "on 2 models" in (health.reason or "")


def test_an_unreachable_provider_cools_down_whatever_the_model(wired, member):
    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    factories.allowed_host(f"127.0.0.1:{port}")
    factories.move_provider("openai", f"http://127.0.0.1:{port}/v1")
    set_global(max_retries=0)
    for _ in range(5):
        with pytest.raises(errors.Unreachable):
            llm.complete(HI, context=llm.CallContext(user=member), model=MINI)
    assert cooling() == {"gpt-5.4-mini", ""}
    with pytest.raises(errors.Unavailable, match=r"OpenAI is cooling down.*unreachable"):
        llm.complete(HI, context=llm.CallContext(user=member), model=NANO)


@pytest.mark.app_config(COOLDOWN_S=30.0)
def test_a_failed_probe_cools_down_again_at_once(wired, member, monkeypatch):
    fail_five_times(wired, member)
    later(monkeypatch, 31)
    wired.script("openai.chat", Reply.error(503, "still down"))
    with pytest.raises(errors.Unavailable):
        llm.complete(HI, context=llm.CallContext(user=member), model=MINI)  # the probe fails
    with pytest.raises(errors.Unavailable, match="cooling down"):
        llm.complete(HI, context=llm.CallContext(user=member), model=MINI)
    assert len(wired.requests_to("openai.chat")) == 6


def test_bad_requests_do_not_count(wired, member):
    set_global(max_retries=0)
    wired.script("openai.chat", *[Reply.error(400, "bad")] * 6)
    for _ in range(6):
        with pytest.raises(errors.BadRequest):
            llm.complete(HI, context=llm.CallContext(user=member))
    assert cooldown.cooling_down() == []


def test_another_process_sees_the_cooldown(wired, member):
    fail_across_models(wired, member)
    cooldown.reset()  # a process that never saw the failures
    assert cooling() == {"gpt-5.4-mini", ""}


def test_healthz_names_what_cools_down(wired, member, client):
    fail_across_models(wired, member)
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"  # the app is healthy; a provider rests
    assert any(line.startswith("openai/gpt-5.4-mini until") for line in body["cooling_down"])
    assert any(line.startswith("openai/* until") for line in body["cooling_down"])


def test_providers_page_shows_the_cooldown_and_its_reason(wired, member, admin_client):
    body = admin_client.get("/admin/providers").get_data(as_text=True)
    assert "cooling down" not in body
    fail_across_models(wired, member)
    body = admin_client.get("/admin/providers").get_data(as_text=True)
    assert "cooling down" in body and "the whole provider" in body
    assert "gpt-5.4-mini until" in body and "unavailable 503" in body
    row = admin_client.get(
        f"/admin/providers/{factories.provider('openai').id}/row", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "cooling down" in row


@pytest.mark.committed
@pytest.mark.app_config(COOLDOWN_FAILURES=1000)
def test_concurrent_failures_are_all_counted(app):
    """Two threads, each on its own connection, record 25 failures each at once: the counts
    are 50 (a read-then-write lost some, and a duplicate first insert was swallowed)."""
    model = snapshot.require_model(MINI)
    outage = errors.Unavailable("down", http_status=503)
    start = threading.Barrier(2)

    def record(_: int) -> None:
        with app.app_context():
            start.wait()
            for _ in range(25):
                cooldown.failed(model, outage)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(record, range(2)))
    db.session.rollback()
    rows = db.session.execute(sa.select(ProviderHealth.model_key, ProviderHealth.failures))
    counts = {key: failures for key, failures in rows}
    assert counts == {"gpt-5.4-mini": 50, "": 50}


@pytest.mark.committed
@pytest.mark.app_config(COOLDOWN_S=30.0)
def test_after_a_rest_one_call_probes_while_the_others_wait(app, wired, member, monkeypatch):
    fail_five_times(wired, member)
    later(monkeypatch, 31)
    wired.script("openai.chat", Reply.ok(delay=0.5))  # the probe takes a while
    start = threading.Barrier(4)

    def call(_: int) -> str:
        with app.app_context():
            user = db.session.get(User, member.id)
            start.wait()
            try:
                llm.complete(HI, context=llm.CallContext(user=user), model=MINI)
                return "served"
            except errors.Unavailable as exc:  # skipped while the probe runs
                assert "cooling down" in exc.message
                return "skipped"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(call, range(4)))
    assert outcomes == ["served", "skipped", "skipped", "skipped"]
    assert len(wired.requests_to("openai.chat")) == 6  # five failures, one probe
    cooldown.reset()
    assert cooldown.cooling_down() == []
    llm.complete(HI, context=llm.CallContext(user=member), model=MINI)  # restored
