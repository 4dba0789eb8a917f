"""Saved keys never appear in any page, header or log line, whoever asks."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa

from tests import factories
from tests.blueprints.test_authorization import ADMIN, LOGIN, ORG_ADMIN, access_level, build, routes
from tests.conftest import login
from webapp.extensions import db
from webapp.models import AuditEvent

SECRETS = {
    "global": "sk-GLOBAL-distinctive-7f3a9c",
    "org": "sk-ORG-distinctive-81bd2e",
    "member": "sk-MEMBER-distinctive-c04f5d",
    "org_admin": "sk-ORGADMIN-distinctive-19aa7e",
    "env": "sk-ENV-distinctive-55e1b0",
}


def _assert_clean(text: str, where: str) -> None:
    for name, secret in SECRETS.items():
        assert secret not in text, f"{name} key leaked in {where}"
        assert secret[3:-4] not in text, f"part of the {name} key leaked in {where}"


@pytest.fixture
def stocked(app, admin, member, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", SECRETS["env"])
    org = factories.make_org("acme")
    org_admin = factories.make_user("orgadmin@example.com")
    factories.add_member(org, org_admin, "org_admin")
    factories.add_member(org, member)
    factories.global_key("openai", SECRETS["global"])
    factories.org_key(org, "openai", SECRETS["org"])
    factories.user_key(member, "openai", SECRETS["member"])
    factories.user_key(org_admin, "anthropic", SECRETS["org_admin"], label="mine")
    return {"admin": admin, "org_admin": org_admin, "member": member}


def test_no_key_in_any_get_response_or_log(app, stocked, caplog):
    caplog.set_level(logging.DEBUG)
    visible = {
        "admin": {ADMIN, ORG_ADMIN, LOGIN},
        "org_admin": {ORG_ADMIN, LOGIN},
        "member": {LOGIN},
    }
    requests = 0
    for role, user in stocked.items():
        client = login(app.test_client(), user.email)
        for rule in routes(app, "GET"):
            if rule.endpoint == "static" or access_level(rule) not in visible[role] | {"public"}:
                continue
            url = build(app, rule)
            variants = [url]
            if "provider_id" in rule.arguments:  # the inline editor of each own key
                variants += [f"{url}?edit={c.id}" for c in _own_keys(user)]
            for target in variants:
                for headers in ({}, {"HX-Request": "true"}):
                    response = client.get(target, headers=headers)
                    requests += 1
                    _assert_clean(response.get_data(as_text=True), f"{role} GET {target}")
                    _assert_clean(json.dumps(dict(response.headers)), f"{role} headers {target}")
    assert requests > 40
    _assert_clean(caplog.text, "the log")
    for record in caplog.records:
        _assert_clean(record.getMessage(), "a log record")


def _own_keys(user):  # type: ignore[no-untyped-def]
    from webapp.services.credentials import storage as credentials

    return credentials.list_credentials(credentials.user_owner(user.id))


def test_no_key_in_error_responses_or_audit_diffs(app, stocked, caplog):
    caplog.set_level(logging.DEBUG)
    member = stocked["member"]
    client = login(app.test_client(), member.email)
    openai = factories.provider("openai")
    # A valid key with an invalid label: the 422 must not echo the key back.
    response = client.post(
        f"/account/providers/{openai.id}/keys",
        headers={"HX-Request": "true"},
        data={
            f"add-{openai.id}-secret": SECRETS["member"] + "x",
            f"add-{openai.id}-label": "l" * 200,
        },
    )
    assert response.status_code == 422
    _assert_clean(response.get_data(as_text=True), "a 422 response")
    # A key with a space: the error explains without quoting it.
    response = client.post(
        f"/account/providers/{openai.id}/keys",
        data={f"add-{openai.id}-secret": "sk-MEMBER distinctive-c04f5d"},
    )
    assert response.status_code == 422 and "distinctive" not in response.get_data(as_text=True)
    diffs = json.dumps([e.diff for e in db.session.scalars(sa.select(AuditEvent))])
    _assert_clean(diffs, "the audit log")
    assert "[set]" in diffs
    _assert_clean(caplog.text, "the log")


def test_keys_check_output_has_no_key(runner, stocked):
    result = runner.invoke(args=["encryption-keys", "check"])
    assert result.exit_code == 0
    _assert_clean(result.output, "encryption-keys check")
