"""No input a person can type produces a 500: every state-changing route gets garbage."""

from __future__ import annotations

import pytest

from tests.blueprints.test_authorization import PUBLIC, SIGN_OUT, access_level, build, routes

GARBAGE = [
    {
        "name": "x" * 5000,
        "slug": "../../etc",
        "version": "not-a-number",
        "email": "@@",
        "model": "no/such",
        "org_role": "owner",
        "kind": "both",
        "enabled": "maybe",
        "temperature": "NaN",
        "max_tokens": "1e309",
        "credit_multiplier": "Infinity",
        "base_url": "javascript:alert(1)",
        "protocol": "ftp",
        "host": "http://x",
        "mode": "free",
        "user_id": "-1",
        "org_id": "abc",
        "feature": "\x00",
        "prompt": "",
        "owner": "99999",
        "profile_name": "🙂",
        "extra_headers": "{",
        "allowed_models": ["x/y"],
        "model_ids": "1,2",
        "settings-temperature": "hot",
        "settings-extra_options": "[1,",
        "role": "root",
        "document": "switchboard_config: 99\nproviders: 5",
        "format": "xml",
        "active": "perhaps",
    },
    {
        "version": "-5",
        "name": "",
        "slug": "",
        "temperature": "-0",
        "max_tokens": "-1",
        "settings-max_tokens": "0",
        "settings-fallback_1": "x/y",
        "email": "a" * 300 + "@example.com",
    },
]


@pytest.mark.parametrize("payload", GARBAGE)
def test_garbage_never_makes_a_500(app, admin_client, payload):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for rule in routes(app, method):
            if access_level(rule) == PUBLIC or rule.endpoint in SIGN_OUT:
                continue
            url = build(app, rule)
            for headers in ({}, {"HX-Request": "true"}):
                response = admin_client.open(url, method=method, data=payload, headers=headers)
                assert response.status_code < 500, f"{method} {rule.rule}: {response.status_code}"


def test_garbage_query_strings_never_make_a_500(app, admin_client):
    query = (
        "?q=%01&provider=%F0%9F&category=x&status=y&page=-1&user_id=abc&org_id=1e9&feature=.."
        "&since=2026-13-45&until=yesterday&format=exe&edit=abc&actor=%00"
    )
    for rule in routes(app, "GET"):
        if access_level(rule) == PUBLIC:
            continue
        response = admin_client.get(build(app, rule) + query)
        assert response.status_code < 500, f"GET {rule.rule}: {response.status_code}"


def test_nul_characters_are_refused_before_they_reach_the_database(admin_client, member_client):
    response = admin_client.get("/admin/models?q=a%00b")
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    response = member_client.post("/account/mode", data={"mode": "byok\x00"})
    assert response.status_code == 400
