"""The read-only provider and model pages."""

from __future__ import annotations


def test_providers_page_lists_the_presets(admin_client):
    response = admin_client.get("/admin/providers")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    for name in (
        "OpenAI",
        "Anthropic",
        "Google Gemini",
        "xAI",
        "DeepSeek",
        "Mistral",
        "GitHub Models",
        "OpenRouter",
        "Ollama",
        "LM Studio",
    ):
        assert name in body
    assert "offered to users and callable" in body  # what "enabled" means, on the page
    assert "HX-Request" in response.headers["Vary"]


def test_providers_partial_for_htmx(admin_client):
    response = admin_client.get("/admin/providers", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="providers-table"')
    assert "<html" not in body


def test_boosted_navigation_gets_the_full_page(admin_client):
    response = admin_client.get(
        "/admin/providers", headers={"HX-Request": "true", "HX-Boosted": "true"}
    )
    assert "<html" in response.get_data(as_text=True)


def test_models_page_shows_prices_and_defaults(admin_client):
    body = admin_client.get("/admin/models").get_data(as_text=True)
    assert "openai/gpt-5.4-mini" in body and "default chat" in body
    assert "$0.75" in body and "$4.50" in body
    assert "unpriced" in body


def test_models_filter_by_provider_and_search(admin_client):
    body = admin_client.get("/admin/models?provider=anthropic").get_data(as_text=True)
    assert "claude-sonnet-5-5" in body and "gpt-5.4-mini" not in body
    body = admin_client.get("/admin/models?q=EMBED").get_data(as_text=True)
    assert "text-embedding-3-small" in body and "claude" not in body
    body = admin_client.get("/admin/models?category=embedding&status=enabled").get_data(
        as_text=True
    )
    assert "mistral-embed" in body and "gpt-5.5" not in body


def test_models_filter_partial_for_htmx(admin_client):
    response = admin_client.get("/admin/models?provider=xai", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="models-table"') and "grok-4.7" in body


def test_models_bad_filter_is_422_not_500(admin_client):
    response = admin_client.get("/admin/models?provider=nope&category=zzz")
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_home_overview_for_admin_and_member(admin_client, member_client):
    assert "Overview" in admin_client.get("/").get_data(as_text=True)
    body = member_client.get("/").get_data(as_text=True)
    assert "managed" in body and "Providers" not in body
