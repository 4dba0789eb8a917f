"""What the gateway refuses, and how: each protocol's error JSON, the field named, the
status an SDK expects; and how model names are understood."""

from __future__ import annotations

import json

import pytest
import sqlalchemy.exc

from tests import factories
from tests.fake_upstream import Reply
from tests.gateway.support import make_token, records
from webapp.extensions import db
from webapp.models import Feature, ParameterSet, SettingsScope
from webapp.services.catalog import names
from webapp.services.settings.cache import settings_cache
from webapp.services.tokens import auth

MINI = "openai/gpt-5.4-mini"
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def bearer(member):  # type: ignore[no-untyped-def]
    _, secret = make_token(member)
    return {"Authorization": f"Bearer {secret}"}


def post(client, path, body, headers, **kwargs):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(
        path, data=data, headers={**headers, "Content-Type": "application/json"}, **kwargs
    )


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"model": MINI}, "messages", "messages is required"),
        ({"messages": "hi"}, "messages", "non-empty list"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role", "must be one of"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "required"),
        ({"messages": HI, "n": 2}, "n", "n must be 1"),
        ({"messages": HI, "temperature": "hot"}, "temperature", "must be a number"),
        ({"messages": HI, "max_tokens": 1.5}, "max_tokens", "whole number"),
        ({"messages": HI, "stream": "yes"}, "stream", "true or false"),
        ({"messages": HI, "stop": [1]}, "stop", "list of strings"),
        ({"messages": HI, "model": 42}, "model", "model"),
        ({"messages": HI, "tools": [{"type": "function"}]}, "tools[0]", "name"),
        ({"messages": HI, "tool_choice": "required"}, "tool_choice", "auto or none"),
        ({"messages": HI, "response_format": {"type": "json_object"}}, "response_format", "text"),
        ({"messages": HI, "logprobs": True}, "logprobs", "not supported"),
    ],
)
def test_bad_chat_bodies_are_400_naming_the_field(wired, client, bearer, body, param, words):
    response = post(client, "/v1/chat/completions", body, bearer)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["param"] == param and words in error["message"]
    assert error["type"] == "invalid_request_error"
    assert not wired.requests_to("openai.chat") and not records()


def test_nul_characters_and_odd_text_never_500(wired, client, bearer):
    for escaped in (r"a\u0000b", r"\ud800", r"\ud83d\ude00", "é" * 10):
        raw = '{"messages": [{"role": "user", "content": "' + escaped + '"}]}'
        response = post(client, "/v1/chat/completions", raw, bearer)
        assert response.status_code in (200, 400), (escaped, response.status_code)
    response = post(client, "/v1/chat/completions", raw.replace("é", r"\udfff"), bearer)
    assert response.status_code == 400
    assert "surrogate" in response.get_json()["error"]["message"]


def test_malformed_json_and_non_objects_are_400(wired, client, bearer):
    for raw in ("{not json", "[1, 2]", '{"messages": NaN}', "[" * 100_000):
        response = post(client, "/v1/chat/completions", raw, bearer)
        assert response.status_code == 400, raw[:10]
        assert response.get_json()["error"]["code"] == "invalid_json"


@pytest.mark.app_config(GATEWAY_MAX_BODY_BYTES=1000)
def test_a_body_over_the_limit_is_413(wired, client, bearer):
    body = {"messages": [{"role": "user", "content": "x" * 2000}]}
    response = post(client, "/v1/chat/completions", body, bearer)
    assert response.status_code == 413
    response = post(client, "/v1/messages", body, bearer)
    assert response.status_code == 413
    assert response.get_json()["error"]["type"] == "request_too_large"


def test_anthropic_errors_use_anthropics_shape(wired, client, bearer):
    response = post(client, "/v1/messages", {"max_tokens": 5}, bearer)
    assert response.status_code == 400
    data = response.get_json()
    assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error"
    assert "messages" in data["error"]["message"]
    response = post(client, "/v1/messages", {"messages": HI}, {"x-api-key": "sb-nope"})
    assert response.status_code == 401
    assert response.get_json()["error"]["type"] == "authentication_error"


def test_no_token_or_a_session_cookie_is_not_enough(wired, client, member_client):
    assert post(client, "/v1/chat/completions", {"messages": HI}, {}).status_code == 401
    response = post(member_client, "/v1/chat/completions", {"messages": HI}, {})
    assert response.status_code == 401
    assert response.get_json()["error"]["type"] == "authentication_error"


def test_a_browser_session_riding_along_is_neither_read_nor_refreshed(wired, member_client, bearer):
    """Token paths open no session: a signed-in browser's cookie is ignored there, and the
    reply sets no cookie (nor varies on one), so the gateway never extends a session."""
    response = post(member_client, "/v1/chat/completions", {"messages": HI}, bearer)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert member_client.get("/account").status_code == 200  # the session itself lives on


def test_clamped_parameters_and_feature_locks_apply(wired, client, bearer):
    feature = Feature(slug="summarize", name="Summarize", locked_fields=["temperature"])
    feature.settings = ParameterSet(scope=SettingsScope.FEATURE, temperature=0.2)
    db.session.add(feature)
    db.session.commit()
    settings_cache().clear()
    body = {"model": MINI, "messages": HI, "temperature": 9, "top_p": 5}
    assert post(client, "/v1/chat/completions", body, bearer).status_code == 200
    sent = wired.requests_to("openai.chat")[-1].body
    assert sent["temperature"] == 2 and sent["top_p"] == 1  # clamped to SPEC's ranges
    headers = {**bearer, "X-Switchboard-Feature": "summarize"}
    assert post(client, "/v1/chat/completions", body, headers).status_code == 200
    assert wired.requests_to("openai.chat")[-1].body["temperature"] == 0.2  # the lock wins
    headers["X-Switchboard-Feature"] = "no such feature!"
    response = post(client, "/v1/chat/completions", body, headers)
    assert response.get_json()["error"]["param"] == "X-Switchboard-Feature"


def test_model_names_global_bare_profile_and_alias(wired, client, bearer, admin):
    names.create_alias("default-chat", "anthropic/claude-haiku-5-5", actor=admin)
    for name, expected in [
        (MINI, MINI),
        ("gpt-5.4-mini", MINI),
        ("balanced", "anthropic/claude-sonnet-5-5"),
        ("default-chat", "anthropic/claude-haiku-5-5"),
        (None, MINI),
    ]:
        body = {"messages": HI, **({"model": name} if name else {})}
        response = post(client, "/v1/chat/completions", body, bearer)
        assert response.status_code == 200, name
        assert response.get_json()["model"] == expected
    response = post(client, "/v1/chat/completions", {"model": "gpt-0", "messages": HI}, bearer)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "model_not_found"
    listed = client.get("/v1/models", headers=bearer).get_json()["data"]
    assert "default-chat" in [m["id"] for m in listed]


def test_an_alias_repointed_is_followed_without_touching_clients(wired, client, bearer, admin):
    alias = names.create_alias("default-chat", MINI, actor=admin)
    assert names.resolve_name("default-chat").global_id == MINI
    names.delete_alias(alias.id, actor=admin)
    names.create_alias("default-chat", "anthropic/claude-haiku-5-5", actor=admin)
    body = {"model": "default-chat", "messages": HI}
    response = post(client, "/v1/chat/completions", body, bearer)
    assert response.get_json()["model"] == "anthropic/claude-haiku-5-5"


def test_alias_names_are_checked(app, admin):
    from webapp.services.errors import ValidationError

    with pytest.raises(ValidationError) as excinfo:
        names.create_alias("Bad Name/x", MINI, actor=admin)
    assert "name" in excinfo.value.errors
    with pytest.raises(ValidationError) as excinfo:
        names.create_alias("ok", "nope/nope", actor=admin)
    assert "model" in excinfo.value.errors


def test_upstream_failures_map_to_502_503_504_and_429(wired, client, bearer):
    for reply, status in [
        (Reply.error(500), 502),
        (Reply.error(503), 503),
        (Reply.error(429, retry_after=7), 429),
        (Reply.error(401), 502),  # the managed key was refused: not the caller's problem
    ]:
        wired.script("openai.chat", *[reply] * 3)
        body = {"model": MINI, "messages": HI}
        response = post(client, "/v1/chat/completions", body, bearer)
        assert response.status_code == status, reply
        assert response.headers["x-request-id"]
        if status == 429:
            assert int(response.headers["Retry-After"]) >= 1
        wired.reset()


def test_service_tokens_call_as_their_org(wired, client):
    org = factories.make_org("acme")
    token, secret = make_token(None, org_id=org.id, kind="service")
    response = post(
        client, "/v1/chat/completions", {"messages": HI}, {"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 200
    (record,) = records()
    assert record.org_id == org.id and record.user_id is None
    assert record.access_token_id == token.id


def test_a_deactivated_owner_is_refused(wired, client, member):
    _, secret = make_token(member)
    member.active = False
    db.session.commit()
    response = post(client, "/v1/chat/completions", {"messages": HI}, {"x-api-key": secret})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("post", "/v1/nope", {}, 404),
        ("post", "/v1/nope", {"anthropic-version": "2023-06-01"}, 404),
        ("get", "/v1/chat/completions", {}, 405),
        ("get", "/v1/messages", {}, 405),
    ],
)
def test_unknown_paths_and_methods_answer_in_the_callers_protocol(
    client, bearer, method, path, headers, status
):
    response = getattr(client, method)(path, headers={**bearer, **headers})
    assert response.status_code == status
    body = response.get_json()
    if path.startswith("/v1/messages") or headers:
        assert body["type"] == "error" and body["error"]["type"] in (
            "not_found_error",
            "invalid_request_error",
        )
    else:
        assert set(body["error"]) >= {"message", "type", "code"}


def test_count_tokens_estimates_without_calling_the_upstream(wired, client, bearer):
    body = {
        "model": MINI,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "x" * 400}],
    }
    headers = {**bearer, "anthropic-version": "2023-06-01"}
    response = post(client, "/v1/messages/count_tokens", body, headers)
    assert response.status_code == 200, response.get_json()
    tokens = response.get_json()["input_tokens"]
    assert 100 < tokens < 130  # ~4 characters a token, plus a few per message
    assert wired.requests_to("openai.chat") == [] and records() == []
    refused = post(client, "/v1/messages/count_tokens", {"model": MINI}, headers)
    assert refused.status_code == 400 and refused.get_json()["type"] == "error"
    anonymous = post(client, "/v1/messages/count_tokens", body, {})
    assert anonymous.status_code == 401


def test_a_fallback_outside_the_tokens_models_is_never_tried(wired, client, member):
    from webapp.services.settings import layers

    layers.update_settings(
        None,
        layers.parameter_set_for("global"),
        {"max_retries": 0, "fallback_models": ["anthropic/claude-haiku-4-5"]},
    )
    _, secret = make_token(member, allowed_models=["openai/*"])
    wired.script("openai.chat", Reply.error(503))
    body = {"model": MINI, "messages": HI}
    response = post(client, "/v1/chat/completions", body, {"Authorization": f"Bearer {secret}"})
    assert response.status_code == 503
    assert wired.requests_to("anthropic.messages") == []
    (record,) = records()
    # Noted as skipped before anything is sent (nothing is held for it either).
    assert [(a["model"], a["status"]) for a in record.attempts] == [
        ("anthropic/claude-haiku-4-5", "skipped"),
        ("openai/gpt-5.4-mini", "error"),
    ]
    # The same token without a list: the fallback answers.
    _, open_secret = make_token(member)
    wired.script("openai.chat", Reply.error(503))
    ok = post(client, "/v1/chat/completions", body, {"Authorization": f"Bearer {open_secret}"})
    assert ok.status_code == 200 and ok.get_json()["model"] == "anthropic/claude-haiku-4-5"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
@pytest.mark.parametrize(
    "error",
    [
        # Every pooled connection stayed busy for ``pool_timeout``: SQLAlchemy's own
        # TimeoutError, not a driver error.
        sqlalchemy.exc.TimeoutError("QueuePool limit of size 16 overflow 4 reached"),
        # The pool could not get a connection that answers its ping.
        sqlalchemy.exc.DisconnectionError("idle connection is gone: OperationalError"),
    ],
)
def test_a_database_the_pool_cannot_reach_is_a_503_in_the_callers_protocol(
    wired, client, bearer, monkeypatch, path, error
):  # type: ignore[no-untyped-def]
    def unreachable(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise error

    auth.clear_cache()
    monkeypatch.setattr(auth, "_load", unreachable)  # the token's lookup needs a connection
    body = {"model": MINI, "messages": HI, "max_tokens": 16}
    response = post(client, path, body, bearer)
    assert response.status_code == 503 and response.headers["Retry-After"]
    reply = response.get_json()
    assert "QueuePool" not in json.dumps(reply) and "idle connection" not in json.dumps(reply)
    if path == "/v1/messages":
        assert reply["type"] == "error" and reply["error"]["type"] == "overloaded_error"
    else:
        assert reply["error"]["type"] and reply["error"]["message"]
