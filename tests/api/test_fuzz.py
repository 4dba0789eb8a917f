"""Schemathesis against /api/v1/openapi.json with an admin's and a member's token: no 5xx,
every response as documented (status, content type, schema, headers), and no secret (a
stored key, the callers' own tokens) in any response.

Bounded to a few examples per operation so the suite stays fast; the README gives the
command for a longer run (``SWITCHBOARD_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests import factories
from tests.api.conftest import token_for
from tests.gateway.support import make_token
from webapp.models import OrgRole, TokenScope
from webapp.services.accounts import invitations
from webapp.services.credentials import allowed_hosts
from webapp.services.tokens import manage

EXAMPLES = int(os.environ.get("SWITCHBOARD_FUZZ_EXAMPLES", "3"))
GLOBAL_SECRET = "sk-fuzz-global-secret-000000000001"
MEMBER_SECRET = "sk-fuzz-member-secret-000000000002"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture
def fuzz_world(app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    app.config.update(API_RPM=None, API_SENSITIVE_RPM=None)  # put back after the test
    # Signing out everywhere and password resets revoke the owner's management tokens: the
    # fuzzer calls those routes too, and must keep its own tokens for the operations after.
    monkeypatch.setattr(manage, "revoke_management_tokens", lambda *args, **kwargs: 0)
    admin = factories.make_user("admin@example.com", role="admin")
    member = factories.make_user("member@example.com")
    org = factories.make_org("acme", "Acme")
    membership = factories.add_member(org, member)
    factories.global_key("openai", GLOBAL_SECRET)
    own_key = factories.user_key(member, "openai", MEMBER_SECRET)
    admin_token = token_for(app, admin, TokenScope.FULL).secret
    member_token = token_for(app, member, TokenScope.FULL).secret
    spare, _ = make_token(member, name="spare")
    invited = invitations.invite(admin, org, "invitee@example.com", OrgRole.MEMBER)
    host = allowed_hosts.add_allowed_host(admin, "localhost:11434")
    return {
        "tokens": [admin_token, member_token],
        "secrets": [GLOBAL_SECRET, MEMBER_SECRET, admin_token, member_token],
        # Half the generated requests name records that exist (random ids are all 404s).
        "ids": {
            "provider_id": factories.provider("openai").id,
            "model_id": factories.model("openai/gpt-5.4-mini").id,
            "credential_id": own_key.id,
            "org_id": org.id,
            "membership_id": membership.id,
            "user_id": member.id,
            "token_id": spare.id,
            "invitation_id": invited.id,
            "host_id": host.id,
        },
    }


def _operations(app: Flask) -> list[Any]:
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok() for result in loaded.get_all_operations()]


def test_api_matches_its_document(app: Flask, fuzz_world: dict[str, Any]) -> None:
    """Each operation in turn, a few generated requests each, with both tokens."""
    operations = _operations(app)
    assert len(operations) > 40
    calls: list[Any] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            real = fuzz_world["ids"]
            calls.append(case)
            if case.path_parameters and len(calls) % 2 == 0:
                for name in case.path_parameters:
                    if name in real:
                        case.path_parameters[name] = real[name]
            for token in fuzz_world["tokens"]:
                response = case.call_and_validate(
                    headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
                )
                for secret in fuzz_world["secrets"]:
                    assert secret not in response.text, (
                        f"a secret in the response of {case.method} {case.path}"
                    )

        run()
