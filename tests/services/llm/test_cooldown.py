"""A provider that keeps failing cools down: calls go straight to fallbacks, fail fast without
one, and the first call after the rest probes and restores it — shared by every process."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import ProviderHealth
from webapp.models.base import utcnow
from webapp.services import llm
from webapp.services.llm import cooldown, errors
from webapp.services.settings import layers as settings_service

HI = [{"role": "user", "content": "Hi"}]
FALLBACK = "anthropic/claude-haiku-4-5"


def set_global(**values):  # type: ignore[no-untyped-def]
    settings_service.update_settings(None, settings_service.parameter_set_for("global"), values)


def fail_five_times(wired, member) -> None:  # type: ignore[no-untyped-def]
    set_global(max_retries=0)
    wired.script("openai.chat", *[Reply.error(503, "overloaded")] * 5)
    for _ in range(5):
        with pytest.raises(errors.Unavailable):
            llm.complete(HI, context=llm.CallContext(user=member))


@pytest.mark.app_config(COOLDOWN_S=30.0)
def test_five_outages_in_a_minute_cool_the_provider_down(wired, member, monkeypatch):
    fail_five_times(wired, member)
    assert len(wired.requests_to("openai.chat")) == 5
    with pytest.raises(errors.Unavailable, match="cooling down after repeated failures"):
        llm.complete(HI, context=llm.CallContext(user=member))
    assert len(wired.requests_to("openai.chat")) == 5  # failed fast, nothing sent

    set_global(fallback_models=[FALLBACK])
    reply = llm.complete(HI, context=llm.CallContext(user=member))
    assert reply.model == FALLBACK and len(wired.requests_to("openai.chat")) == 5
    assert {a["status"] for a in reply.attempts} >= {"skipped"}

    later = utcnow() + timedelta(seconds=31)
    monkeypatch.setattr(cooldown, "utcnow", lambda: later)
    cooldown.reset()
    set_global(fallback_models=None)
    reply = llm.complete(HI, context=llm.CallContext(user=member))  # the probe works
    assert reply.model == "openai/gpt-5.4-mini"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProviderHealth)) == 0


@pytest.mark.app_config(COOLDOWN_S=30.0)
def test_a_failed_probe_cools_down_again_at_once(wired, member, monkeypatch):
    fail_five_times(wired, member)
    later = utcnow() + timedelta(seconds=31)
    monkeypatch.setattr(cooldown, "utcnow", lambda: later)
    cooldown.reset()
    wired.script("openai.chat", Reply.error(503, "still down"))
    with pytest.raises(errors.Unavailable):
        llm.complete(HI, context=llm.CallContext(user=member))  # the probe fails
    with pytest.raises(errors.Unavailable, match="cooling down"):
        llm.complete(HI, context=llm.CallContext(user=member))
    assert len(wired.requests_to("openai.chat")) == 6


def test_bad_requests_do_not_count(wired, member):
    set_global(max_retries=0)
    wired.script("openai.chat", *[Reply.error(400, "bad")] * 6)
    for _ in range(6):
        with pytest.raises(errors.BadRequest):
            llm.complete(HI, context=llm.CallContext(user=member))
    assert cooldown.cooling_down() == []


def test_another_process_sees_the_cooldown(wired, member):
    fail_five_times(wired, member)
    cooldown.reset()  # a process that never saw the failures
    assert {h.model_key for h in cooldown.cooling_down()} == {"gpt-5.4-mini", ""}


def test_healthz_names_what_cools_down(wired, member, client):
    fail_five_times(wired, member)
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"  # the app is healthy; a provider rests
    assert any(line.startswith("openai/gpt-5.4-mini until") for line in body["cooling_down"])
    assert any(line.startswith("openai/* until") for line in body["cooling_down"])


def test_providers_page_shows_the_cooldown_and_its_reason(wired, member, admin_client):
    body = admin_client.get("/admin/providers").get_data(as_text=True)
    assert "cooling down" not in body
    fail_five_times(wired, member)
    body = admin_client.get("/admin/providers").get_data(as_text=True)
    assert "cooling down" in body and "the whole provider" in body
    assert "gpt-5.4-mini until" in body and "unavailable 503" in body
    row = admin_client.get(
        f"/admin/providers/{factories.provider('openai').id}/row", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "cooling down" in row
