"""/admin/defaults: the global settings form, validation, conflicts and the preview."""

from __future__ import annotations

import pytest

from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.services.settings import layers as settings_service
from webapp.services.settings.resolution import resolve

HX = {"HX-Request": "true"}


def data(version: int | str = 1, **values: str) -> dict[str, str]:
    base = {"settings-version": str(version)}
    return {**base, **{f"settings-{k}": v for k, v in values.items()}}


def _version() -> int:
    return settings_service.parameter_set_for("global").version


def test_page_shows_the_editor_with_ranges_and_the_effective_settings(admin_client):
    body = admin_client.get("/admin/defaults").get_data(as_text=True)
    assert 'id="defaults-editor"' in body and 'id="settings-preview"' in body
    assert 'type="range"' in body and 'max="2"' in body  # temperature slider 0–2
    assert "Fallback 1" in body and "Logging level" in body


def test_save_applies_to_every_call_and_is_audited(admin_client):
    response = admin_client.post(
        "/admin/defaults",
        headers=HX,
        data=data(
            _version(),
            temperature="0.4",
            max_tokens="2048",
            logging_level="full",
            log_request_bodies="true",
            fallback_1="anthropic/claude-haiku-4-5",
            fallback_2="mistral/mistral-small-2603",
            stop="END\nSTOP",
            extra_options='{"user": "x"}',
        ),
    )
    assert response.status_code == 200
    assert "Global defaults saved" in response.headers["HX-Trigger"]
    effective = resolve()
    assert effective.values["temperature"] == 0.4 and effective.values["max_tokens"] == 2048
    assert effective.values["fallback_models"] == [
        "anthropic/claude-haiku-4-5",
        "mistral/mistral-small-2603",
    ]
    assert effective.values["stop"] == ["END", "STOP"] and effective.values["log_request_bodies"]
    assert effective.sources["temperature"].layer == "global"
    event = db.session.query(AuditEvent).filter_by(target_type="settings").one()
    assert event.diff["temperature"] == {"before": None, "after": 0.4}


def test_empty_fields_inherit(admin_client):
    admin_client.post("/admin/defaults", headers=HX, data=data(_version(), temperature="0.4"))
    admin_client.post("/admin/defaults", headers=HX, data=data(_version(), temperature=""))
    assert resolve().values["temperature"] is None
    assert resolve().sources["temperature"].layer == "default"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"temperature": "2.5"}, "between 0 and 2"),
        ({"max_tokens": "0"}, "between 1 and 200000"),
        ({"top_p": "abc"}, "Not a valid float"),
        ({"extra_options": "{nope"}, "Not valid JSON"),
        ({"extra_options": '{"model": "x"}'}, "cannot set model"),
        ({"model": "openai/does-not-exist"}, "Not a valid choice"),
        ({"request_timeout_ms": "50"}, "between 1000 and 300000"),
    ],
)
def test_bad_input_is_422_at_the_field_and_saves_nothing(admin_client, values, message):
    before = _version()
    response = admin_client.post("/admin/defaults", headers=HX, data=data(before, **values))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _version() == before


def test_a_stale_form_gets_a_conflict_with_the_current_values(admin_client):
    stale = _version()
    settings_service.update_settings(
        None, settings_service.parameter_set_for("global"), {"temperature": 1.1}
    )
    response = admin_client.post("/admin/defaults", headers=HX, data=data(stale, temperature="0.2"))
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "Someone else changed" in body
    assert 'name="settings-temperature"' in body and 'value="0.2"' in body  # what was typed
    assert "Saved meanwhile by someone else: <code>1.1</code>" in body  # theirs, beside it
    assert f'name="settings-version" type="hidden" value="{stale + 1}"' in body
    assert resolve().values["temperature"] == 1.1
    # Saving again from that form applies the typed value on purpose.
    again = admin_client.post(
        "/admin/defaults", headers=HX, data=data(stale + 1, temperature="0.2")
    )
    assert again.status_code == 200 and resolve().values["temperature"] == 0.2


def test_preview_shows_what_the_change_would_produce_without_saving(admin_client):
    response = admin_client.post(
        "/admin/defaults/preview",
        headers=HX,
        data=data(_version(), temperature="1.7", model="anthropic/claude-haiku-4-5"),
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith(
        '<section id="settings-preview"'
    )
    assert "1.7" in body and "anthropic/claude-haiku-4-5" in body and "not saved" in body
    assert resolve().values["temperature"] is None


def test_preview_of_bad_input_is_422(admin_client):
    response = admin_client.post(
        "/admin/defaults/preview", headers=HX, data=data(_version(), temperature="9")
    )
    assert response.status_code == 422 and "Fix the highlighted fields" in response.get_data(
        as_text=True
    )


def test_without_javascript_save_redirects(admin_client):
    response = admin_client.post("/admin/defaults", data=data(_version(), seed="5"))
    assert response.status_code == 303 and response.headers["Location"] == "/admin/defaults"
    assert resolve().values["seed"] == 5


def test_disabled_models_are_not_offered(admin_client):
    factories.model("openai/gpt-5.5").enabled = False
    db.session.commit()
    from webapp.services.settings.cache import settings_cache

    settings_cache().clear()
    body = admin_client.get("/admin/defaults").get_data(as_text=True)
    assert 'value="openai/gpt-5.5"' not in body and 'value="openai/gpt-5.4-mini"' in body


def test_after_a_save_the_side_panel_shows_the_settings_now_not_a_preview(admin_client):
    admin_client.post("/admin/defaults/preview", headers=HX, data=data(_version(), seed="7"))
    response = admin_client.post(
        "/admin/defaults", headers=HX, data=data(_version(), temperature="0.4")
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<section id="settings-preview" hx-swap-oob="true">' in body
    assert "Effective settings now" in body and "Preview (not saved)" not in body
    panel = body.split('id="settings-preview"', 1)[1]
    assert "0.4" in panel.split('id="effective-temperature"', 1)[1].split("</tr>", 1)[0]
    # A failed save leaves the preview alone.
    bad = admin_client.post("/admin/defaults", headers=HX, data=data(_version(), temperature="9"))
    assert bad.status_code == 422 and "hx-swap-oob" not in bad.get_data(as_text=True)


def _slider(body: str, name: str) -> str:
    tag = body.split(f'data-sync="{name}"', 1)[1].split(">", 1)[0]
    return tag.split('value="', 1)[1].split('"', 1)[0]


def test_empty_fields_show_what_they_inherit_and_from_where(admin_client):
    body = admin_client.get("/admin/defaults").get_data(as_text=True)
    assert "Inherits the provider&#39;s default from Built-in default." in body
    assert "Inherits 2 from Built-in default." in body  # max retries
    # An empty slider sits at the inherited value (none: the low end), dimmed; not mid-range.
    assert _slider(body, "settings-temperature") == "0"
    assert 'class="slider slider-inherited slider-unset"' in body  # no value anywhere: no thumb

    admin_client.post(
        "/admin/defaults", headers=HX, data=data(_version(), temperature="0.4", top_p="0.9")
    )
    org = factories.make_org("acme")
    body = admin_client.get(f"/admin/orgs/{org.id}?tab=settings").get_data(as_text=True)
    assert "Inherits 0.4 from Global defaults." in body
    assert _slider(body, "org-settings-temperature") == "0.4"
    assert _slider(body, "org-settings-top_p") == "0.9"
    assert 'aria-valuetext="Inherits 0.4 from Global defaults."' in body
    # The global editor's own set field shows its value, with no inherit hint for it.
    body = admin_client.get("/admin/defaults").get_data(as_text=True)
    assert _slider(body, "settings-temperature") == "0.4"
    assert "Inherits 0.4" not in body
