"""/admin/playground: effective settings preview, a metered call, streaming, the record."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import sqlalchemy as sa

from tests import factories
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import UsageRecord

HX = {"HX-Request": "true"}


def form(user, **extra):  # type: ignore[no-untyped-def]
    return {
        "user_id": user.id,
        "org_id": "",
        "feature": "",
        "model": "",
        "prompt": "Hello there",
        **extra,
    }


def test_page_previews_the_effective_settings_of_the_signed_in_admin(wired, admin_client):
    body = admin_client.get("/admin/playground").get_data(as_text=True)
    assert 'id="playground-effective"' in body and "openai/gpt-5.4-mini" in body
    assert "built-in" in body


def test_preview_follows_the_chosen_context(wired, admin_client, member):
    org = factories.make_org("acme")
    factories.add_member(org, member)
    response = admin_client.get(
        f"/admin/playground/effective?user_id={member.id}&org_id={org.id}&model=anthropic/claude-haiku-4-5",
        headers=HX,
    )
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="playground-effective"')
    assert "anthropic/claude-haiku-4-5" in body and "this call" in body


def test_preview_explains_why_a_call_cannot_run(wired, admin_client, member):
    factories.provider("openai").enabled = False
    db.session.commit()
    from webapp.services.settings.cache import settings_cache

    settings_cache().clear()
    body = admin_client.get(
        f"/admin/playground/effective?user_id={member.id}", headers=HX
    ).get_data(as_text=True)
    assert "This call cannot run" in body and "OpenAI is disabled" in body


def test_send_without_streaming_shows_reply_and_usage_record(wired, admin_client, member):
    response = admin_client.post(
        "/admin/playground", data=form(member, temperature="0.4"), headers=HX
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and wired.default_text in body
    record = db.session.scalar(sa.select(UsageRecord))
    assert record.caller == "playground" and record.user_id == member.id
    assert record.request_id in body and "$0.0000" in body
    assert wired.requests_to("openai.chat")[0].body["temperature"] == 0.4


def test_a_failed_call_shows_the_classified_error_and_its_record(wired, admin_client, admin):
    wired.script("openai.chat", Reply.error(401, "bad key", echo_auth=True))
    body = admin_client.post("/admin/playground", data=form(admin), headers=HX).get_data(
        as_text=True
    )
    assert "rejected the key" in body and "auth" in body
    assert "sk-wired" not in body


def test_stream_sends_text_as_it_arrives(wired, admin_client, admin):
    response = admin_client.post("/admin/playground/stream", data=form(admin))
    assert response.status_code == 200 and response.mimetype == "text/plain"
    request_id = response.headers["X-Request-Id"]
    assert response.get_data(as_text=True) == wired.default_text
    record = admin_client.get(f"/admin/playground/records/{request_id}", headers=HX)
    body = record.get_data(as_text=True)
    assert request_id in body and "streamed" in body and "first token after" in body


def test_stream_errors_before_the_first_byte_keep_their_status(wired, admin_client, admin):
    from webapp.services.settings import layers as settings_service

    settings_service.update_settings(
        None, settings_service.parameter_set_for("global"), {"max_retries": 0}
    )
    wired.script("openai.chat", Reply.error(429, "slow down"))
    response = admin_client.post("/admin/playground/stream", data=form(admin))
    assert response.status_code == 429 and "rate limiting" in response.get_data(as_text=True)
    assert response.headers["X-Request-Id"]


def test_bad_input_is_422_and_nothing_is_called(wired, admin_client, admin):
    response = admin_client.post("/admin/playground", data=form(admin, prompt="", temperature="9"))
    assert response.status_code == 422
    response = admin_client.post("/admin/playground/stream", data=form(admin, user_id="abc"))
    assert response.status_code == 422
    assert wired.requests == [] and db.session.scalar(sa.select(UsageRecord)) is None


def test_unknown_record_is_404(admin_client):
    assert admin_client.get("/admin/playground/records/nope").status_code == 404


def test_the_playground_never_spends_another_users_personal_key(wired, admin_client, member):
    factories.user_key(member, "openai", "sk-member-own-money-1")
    member.mode = "byok"
    db.session.commit()
    response = admin_client.post("/admin/playground", data=form(member))
    assert response.status_code == 422 and "will not spend them" in response.get_data(as_text=True)
    response = admin_client.post("/admin/playground/stream", data=form(member))
    assert response.status_code == 422
    assert wired.requests == []


def test_the_preview_says_a_byok_user_cannot_be_called_as_before_sending(
    wired, admin_client, member
):
    member.mode = "byok"
    db.session.commit()
    body = admin_client.get(
        f"/admin/playground/effective?user_id={member.id}", headers=HX
    ).get_data(as_text=True)
    assert "This call cannot run" in body and "will not spend them" in body
    assert "(BYOK) cannot be called as here" in admin_client.get("/admin/playground").get_data(
        as_text=True
    )


def test_an_htmx_422_shows_the_field_messages_in_the_reply_area(wired, admin_client, admin):
    response = admin_client.post(
        "/admin/playground", data=form(admin, prompt="", temperature="9"), headers=HX
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and body.lstrip().startswith('<div id="playground-result"')
    assert "Nothing was sent" in body and ">Prompt</a>" in body and ">Temperature" in body


class _Controls(HTMLParser):
    """The names of the form controls inside the element that carries ``hx-get``."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # > 0 while inside the hx-get element
        self.inside: set[str] = set()
        self.everywhere: set[str] = set()
        self.hx_get: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "div" and "hx-get" in named and not self.depth:
            self.hx_get, self.depth = named, 1
        elif tag == "div" and self.depth:
            self.depth += 1
        if tag in ("input", "select", "textarea") and named.get("name"):
            self.everywhere.add(str(named["name"]))
            if self.depth:
                self.inside.add(str(named["name"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.depth:
            self.depth -= 1


def test_changing_a_selector_never_puts_the_prompt_in_a_url(wired, admin_client, admin):
    """The preview is a GET: it may carry only the selectors, never the prompt, the system
    prompt or the CSRF token (the form itself posts)."""
    body = admin_client.get("/admin/playground").get_data(as_text=True)
    controls = _Controls()
    controls.feed(body)
    assert controls.hx_get["hx-include"] == "this"  # only the controls inside it
    assert {"prompt", "system", "csrf_token"} <= controls.everywhere
    assert controls.inside and not controls.inside & {"prompt", "system", "csrf_token"}
    assert re.search(r'<form id="playground-form" method="post"', body)
    # A GET that carries a prompt anyway is answered from the selectors alone.
    response = admin_client.get(
        f"/admin/playground/effective?user_id={admin.id}&prompt=secret-words-xyz", headers=HX
    )
    assert response.status_code == 200
    assert "secret-words-xyz" not in response.get_data(as_text=True)
