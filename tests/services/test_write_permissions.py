"""Every service that writes checks who may write, whatever the view or API route did first
(issue 9 item 3). Each write service is called as someone it must refuse: the permission
error, and nothing saved, audited or announced.

The list of write services is read from ``webapp/services`` itself: a new public function
named like a write (``create_…``, ``set_…``, ``remove_…`` …) fails this test until it has a
case below, or is listed in ``NOT_ACTOR_CHECKED`` with the reason it needs no check.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

import webapp.services
from tests import factories
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Budget,
    Feature,
    Membership,
    ModelAlias,
    OrgInvitation,
    OrgRole,
    ParameterSet,
    Profile,
    SsoIdentity,
    User,
)
from webapp.services.accounts import invitations, orgs, passwords, sessions, sso, users
from webapp.services.billing import budgets, ledger
from webapp.services.billing import config as billing_config
from webapp.services.catalog import editing, names, providers
from webapp.services.config import apply as config_apply
from webapp.services.credentials import allowed_hosts, confirmation
from webapp.services.credentials import storage as credentials
from webapp.services.errors import NotFound, PermissionDenied
from webapp.services.settings import features, layers, profiles
from webapp.services.settings.cache import read_version
from webapp.services.tokens import manage
from webapp.services.tokens.rules import TokenInput
from webapp.services.usage import retention

WRITE_VERB = re.compile(
    r"^(create|update|delete|set|add|remove|revoke|invite|apply|post|link|unlink|confirm|"
    r"reset|change|end|rotate|prune|accept|decline|archive|grant|import|save|write|store|"
    r"enable|disable|approve|move|rename|replace|edit|assign)(_|$)"
)

# Write-named functions that take no actor to check, and why that is right.
NOT_ACTOR_CHECKED = {
    # halves of a service: put checked values on a record, nothing committed; only the
    # services below (which check) and the system's seed and import call them
    "accounts.orgs.write_org": "writer half",
    "catalog.editing.write_model": "writer half",
    "catalog.providers.write_provider": "writer half",
    "settings.features.write_feature": "writer half",
    "settings.profiles.write_profile": "writer half",
    "catalog.editing.write_default": "writer half",
    "settings.layers.write_settings": "writer half",
    "changes.delete_record": "the commit path; its callers check",
    # acting on one's own records: the user is the actor
    "accounts.invitations.accept": "own invitation (others' are NotFound, tested below)",
    "accounts.invitations.decline": "own invitation (others' are NotFound, tested below)",
    "settings.preferences.set_preferred_model": "one's own preference layer",
    # the system: command line, start-up, metering, caches
    "credentials.env_import.apply_import": "command line (the server's operator)",
    "credentials.rotation.rotate_all": "command line (the server's operator)",
    "credentials.origins.approve_new_provider": "writer half of create_provider",
    "usage.rollups.delete_records": "retention and deletions",
    "usage.synthetic.write_records": "demo data, command line",
    "usage.rollups.add_inserted": "rollups follow the records metering wrote",
    "llm.metering.write": "metering",
    "billing.interrupted.remove_placeholder": "metering: the real record replaces the sweep's",
    "tokens.manage.revoke_management_tokens": "half of a password change / sign-out everywhere",
    "llm.cooldown.reset": "process state of the call path",
    "llm.adapters.openai_http.post_chat": "an HTTP post to a provider, no record",
    "catalog.providers.delete_impact": "reads only: what a deletion would remove",
}


def write_services() -> set[str]:
    """``module.function`` of every public write-named function under webapp/services."""
    found = set()
    for info in pkgutil.walk_packages(webapp.services.__path__, "webapp.services."):
        module = importlib.import_module(info.name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and WRITE_VERB.match(name):
                found.add(f"{info.name.removeprefix('webapp.services.')}.{name}")
    return found


@dataclass
class World:
    """An org with its admin and a member, an admin of another org, and records to aim at."""

    acme: Any
    acme_admin: User
    acme_member: User
    outsider: User  # org admin of another org
    admin: User

    def membership(self, user: User) -> Membership:
        return db.session.scalar(
            sa.select(Membership).where(
                Membership.user_id == user.id, Membership.org_id == self.acme.id
            )
        )


@pytest.fixture
def world(app) -> World:  # type: ignore[no-untyped-def]
    acme, other = factories.make_org("acme", "Acme"), factories.make_org("other", "Other")
    acme_admin = factories.make_user("boss@example.com")
    acme_member = factories.make_user("worker@example.com")
    outsider = factories.make_user("stranger@example.com")
    factories.add_member(acme, acme_admin, OrgRole.ORG_ADMIN)
    factories.add_member(acme, acme_member, OrgRole.MEMBER)
    factories.add_member(other, outsider, OrgRole.ORG_ADMIN)
    admin = factories.make_user("root@example.com", role="admin")
    return World(acme, acme_admin, acme_member, outsider, admin)


def _pset(scope: str, owner_id: int | None = None) -> ParameterSet:
    return layers.parameter_set_for(scope, owner_id)


def _global_feature(w: World) -> Feature:
    return features.create_feature(w.admin, None, "sum", "Summarize")


def _acme_feature(w: World) -> Feature:
    return features.create_feature(w.admin, w.acme, "acme-sum", "Summarize")


def _global_profile(w: World) -> Profile:
    return db.session.scalar(sa.select(Profile).where(Profile.name == "fast"))


def _invitation(w: World) -> OrgInvitation:
    return invitations.invite(w.admin, w.acme, "new@example.com", OrgRole.MEMBER)


def _org_budget(w: World) -> Budget:
    owner = budgets.BudgetOwner("org", w.acme.id)
    return budgets.create_budget(w.admin, owner, budgets.BudgetInput("monthly", "usd", "10"))


def _alias(w: World) -> ModelAlias:
    return names.create_alias("quick", "openai/gpt-5.4-mini", actor=w.admin)


def _identity(w: World) -> SsoIdentity:
    identity = SsoIdentity(user_id=w.acme_member.id, issuer="https://id.example", subject="s1")
    db.session.add(identity)
    db.session.commit()
    return identity


BUDGET = budgets.BudgetInput("monthly", "usd", "5")
KEY = credentials.CredentialInput(label="k", secret="sk-permission-test-0001")
Case = Callable[[World], Callable[[], Any]]  # makes the targets, returns the refused call

# service -> its refused calls, each as someone it must refuse: PermissionDenied, or NotFound
# where the record does not exist for that person
CASES: dict[str, list[Case]] = {
    # accounts
    "accounts.invitations.add_by_email": [
        lambda w: partial(invitations.add_by_email, w.outsider, w.acme, "x@example.com", "member"),
        lambda w: partial(
            invitations.add_by_email, w.acme_member, w.acme, "x@example.com", "member"
        ),
    ],
    "accounts.invitations.invite": [
        lambda w: partial(invitations.invite, w.outsider, w.acme, "x@example.com", "member"),
    ],
    "accounts.invitations.invite_by_email": [
        lambda w: partial(
            invitations.invite_by_email, w.acme_member, w.acme, "x@example.com", "member"
        ),
    ],
    "accounts.invitations.revoke": [
        lambda w: partial(invitations.revoke, w.outsider, w.acme, _invitation(w).id),
    ],
    "accounts.invitations.accept": [
        lambda w: partial(invitations.accept, w.acme_member, _invitation(w).id),
    ],
    "accounts.invitations.decline": [
        lambda w: partial(invitations.decline, w.acme_member, _invitation(w).id),
    ],
    "accounts.orgs.add_member": [
        lambda w: partial(orgs.add_member, w.acme_admin, w.acme, "stranger@example.com", "member"),
    ],
    "accounts.orgs.create_org": [lambda w: partial(orgs.create_org, w.acme_admin, "new", "New")],
    "accounts.orgs.set_archived": [
        lambda w: partial(orgs.set_archived, w.acme_admin, w.acme, True)
    ],
    "accounts.orgs.update_org": [
        lambda w: partial(orgs.update_org, w.outsider, w.acme, expected_version=None, name="Mine"),
        lambda w: partial(
            orgs.update_org, w.acme_member, w.acme, expected_version=None, name="Mine"
        ),
    ],
    "accounts.orgs.set_member_role": [
        lambda w: partial(
            orgs.set_member_role, w.outsider, w.acme, w.membership(w.acme_admin).id, OrgRole.MEMBER
        ),
        lambda w: partial(
            orgs.set_member_role,
            w.acme_member,
            w.acme,
            w.membership(w.acme_member).id,
            OrgRole.ORG_ADMIN,
        ),
    ],
    "accounts.orgs.remove_member": [
        lambda w: partial(orgs.remove_member, w.outsider, w.acme, w.membership(w.acme_admin).id),
        lambda w: partial(orgs.remove_member, w.acme_member, w.acme, w.membership(w.acme_admin).id),
    ],
    "accounts.passwords.change_password": [
        lambda w: partial(
            passwords.change_password,
            w.acme_member,
            factories.PASSWORD,
            "a new long password",
            actor=w.acme_admin,
            address="192.0.2.1",
        ),
    ],
    "accounts.passwords.reset_password": [
        lambda w: partial(passwords.reset_password, w.acme_member, actor=w.acme_admin),
    ],
    "accounts.passwords.set_password": [
        lambda w: partial(
            passwords.set_password, w.acme_member, "a new long password", actor=w.acme_admin
        ),
    ],
    "accounts.sessions.end_all_sessions": [
        lambda w: partial(sessions.end_all_sessions, w.acme_member, actor=w.acme_admin),
    ],
    "accounts.sso.link_identity": [
        lambda w: partial(sso.link_identity, w.acme_admin, w.acme_member, "any", "subject-1"),
    ],
    "accounts.sso.unlink_identity": [
        lambda w: partial(sso.unlink_identity, w.acme_admin, w.acme_member, _identity(w).id),
    ],
    "accounts.users.create_user": [
        lambda w: partial(
            users.create_user, "x@example.com", factories.PASSWORD, actor=w.acme_admin
        ),
    ],
    "accounts.users.set_mode": [
        lambda w: partial(users.set_mode, w.acme_member, "byok", actor=w.acme_admin),
    ],
    "accounts.users.update_user": [
        lambda w: partial(
            users.update_user,
            w.acme_admin,
            w.acme_member,
            role="admin",
            mode="managed",
            active=True,
            expected_version=None,
        ),
    ],
    # billing
    "billing.budgets.create_budget": [
        lambda w: partial(
            budgets.create_budget, w.acme_admin, budgets.BudgetOwner("org", w.acme.id), BUDGET
        ),
    ],
    "billing.budgets.update_budget": [
        lambda w: partial(budgets.update_budget, w.acme_admin, _org_budget(w), BUDGET, None),
    ],
    "billing.budgets.delete_budget": [
        lambda w: partial(budgets.delete_budget, w.acme_admin, _org_budget(w)),
    ],
    "billing.config.update_billing": [
        lambda w: partial(
            billing_config.update_billing, w.acme_admin, credits_required=True, timezone="UTC"
        ),
    ],
    "billing.ledger.post_entry": [
        lambda w: partial(
            ledger.post_entry,
            w.acme_admin,
            ledger.Owner("org", w.acme.id),
            Decimal(5),
            kind="grant",
            note=None,
        ),
    ],
    # catalog
    "catalog.editing.add_live_models": [
        lambda w: partial(
            editing.add_live_models, w.acme_admin, factories.provider("openai"), ["new-1"]
        ),
    ],
    "catalog.editing.create_model": [
        lambda w: partial(
            editing.create_model,
            w.acme_admin,
            {"provider": "openai", "model_id": "new-1", "display_name": "N"},
        ),
    ],
    "catalog.editing.set_default": [
        lambda w: partial(
            editing.set_default, w.acme_admin, factories.model("anthropic/claude-haiku-4-5"), "chat"
        ),
    ],
    "catalog.editing.set_enabled": [
        lambda w: partial(
            editing.set_enabled, w.acme_admin, factories.model("openai/gpt-5.5"), False
        ),
    ],
    "catalog.editing.set_enabled_many": [
        lambda w: partial(
            editing.set_enabled_many, w.acme_admin, [factories.model("openai/gpt-5.5").id], False
        ),
    ],
    "catalog.editing.update_model": [
        lambda w: partial(
            editing.update_model,
            w.acme_admin,
            factories.model("openai/gpt-5.5"),
            {"display_name": "Mine"},
            None,
        ),
    ],
    "catalog.names.create_alias": [
        lambda w: partial(names.create_alias, "mine", "openai/gpt-5.5", actor=w.acme_admin),
    ],
    "catalog.names.delete_alias": [
        lambda w: partial(names.delete_alias, _alias(w).id, actor=w.acme_admin),
    ],
    "catalog.providers.create_provider": [
        lambda w: partial(
            providers.create_provider,
            w.acme_admin,
            {
                "slug": "mine",
                "display_name": "Mine",
                "protocol": "openai",
                "base_url": "https://llm.example/v1",
            },
        ),
    ],
    "catalog.providers.update_provider": [
        lambda w: partial(
            providers.update_provider,
            w.acme_admin,
            factories.provider("openai"),
            {"display_name": "Mine", "protocol": "openai"},
            None,
        ),
    ],
    "catalog.providers.set_enabled": [
        lambda w: partial(providers.set_enabled, w.acme_admin, factories.provider("openai"), False),
    ],
    "catalog.providers.delete_provider": [
        lambda w: partial(providers.delete_provider, w.acme_admin, factories.provider("gemini")),
    ],
    # configuration import
    "config.apply.apply_import": [
        lambda w: partial(
            config_apply.apply_import,
            w.acme_admin,
            {"switchboard_config": 1, "settings": {"temperature": 1.5}},
        ),
    ],
    # credentials
    "credentials.allowed_hosts.add_allowed_host": [
        lambda w: partial(allowed_hosts.add_allowed_host, w.acme_admin, "localhost:11434"),
    ],
    "credentials.allowed_hosts.remove_allowed_host": [
        lambda w: partial(
            allowed_hosts.remove_allowed_host,
            w.acme_admin,
            factories.allowed_host("localhost:11434").id,
        ),
    ],
    "credentials.confirmation.confirm_origin": [
        lambda w: partial(
            confirmation.confirm_origin, w.acme_admin, factories.global_key("openai")
        ),
    ],
    "credentials.confirmation.confirm_env_key_origin": [
        lambda w: partial(
            confirmation.confirm_env_key_origin, w.acme_admin, factories.provider("openai")
        ),
    ],
    "credentials.confirmation.confirm_provider_keys": [
        lambda w: partial(
            confirmation.confirm_provider_keys, w.acme_admin, factories.provider("openai")
        ),
    ],
    "credentials.storage.create_credential": [
        lambda w: partial(
            credentials.create_credential,
            w.acme_member,
            credentials.org_owner(w.acme.id),
            factories.provider("openai").id,
            KEY,
        ),
        lambda w: partial(
            credentials.create_credential,
            w.outsider,
            credentials.GLOBAL,
            factories.provider("openai").id,
            KEY,
        ),
    ],
    "credentials.storage.update_credential": [
        lambda w: partial(
            credentials.update_credential, w.acme_admin, factories.global_key("openai"), KEY, None
        ),
    ],
    "credentials.storage.delete_credential": [
        lambda w: partial(
            credentials.delete_credential, w.acme_admin, factories.global_key("openai")
        ),
    ],
    # settings
    "settings.features.create_feature": [
        lambda w: partial(features.create_feature, w.acme_admin, None, "mine", "Mine"),
        lambda w: partial(features.create_feature, w.outsider, w.acme, "mine", "Mine"),
    ],
    "settings.features.update_feature": [
        lambda w: partial(
            features.update_feature,
            w.acme_admin,
            _global_feature(w),
            expected_version=None,
            name="Mine",
        ),
        lambda w: partial(
            features.update_feature,
            w.outsider,
            _acme_feature(w),
            expected_version=None,
            name="Mine",
        ),
    ],
    "settings.features.delete_feature": [
        lambda w: partial(features.delete_feature, w.acme_admin, _global_feature(w)),
        lambda w: partial(features.delete_feature, w.acme_member, _acme_feature(w)),
    ],
    "settings.profiles.create_profile": [
        lambda w: partial(profiles.create_profile, w.acme_admin, None, "mine"),
        lambda w: partial(profiles.create_profile, w.outsider, w.acme, "mine"),
    ],
    "settings.profiles.delete_profile": [
        lambda w: partial(profiles.delete_profile, w.acme_admin, _global_profile(w)),
    ],
    "settings.layers.update_settings": [
        # the example: a plain member set the global temperature
        lambda w: partial(
            layers.update_settings, w.acme_member, _pset("global"), {"temperature": 2}
        ),
        lambda w: partial(
            layers.update_settings, w.acme_admin, _pset("global"), {"temperature": 2}
        ),
        lambda w: partial(layers.update_settings, w.outsider, _pset("org", w.acme.id), {"seed": 1}),
        lambda w: partial(
            layers.update_settings, w.acme_member, _pset("org", w.acme.id), {"seed": 1}
        ),
        lambda w: partial(
            layers.update_settings,
            w.acme_admin,
            _pset("profile", _global_profile(w).id),
            {"seed": 1},
        ),
        lambda w: partial(
            layers.update_settings, w.outsider, _pset("feature", _acme_feature(w).id), {"seed": 1}
        ),
        lambda w: partial(
            layers.update_settings, w.acme_admin, _pset("user", w.acme_member.id), {"seed": 1}
        ),
    ],
    # tokens
    "tokens.manage.create_personal_token": [
        lambda w: partial(
            manage.create_personal_token, w.acme_member, TokenInput(name="t"), actor=w.acme_admin
        ),
    ],
    "tokens.manage.create_service_token": [
        lambda w: partial(
            manage.create_service_token, w.acme_member, w.acme.id, TokenInput(name="t")
        ),
        lambda w: partial(manage.create_service_token, w.outsider, w.acme.id, TokenInput(name="t")),
    ],
    "tokens.manage.revoke_token": [
        lambda w: partial(
            manage.revoke_token,
            w.outsider,
            manage.create_personal_token(w.acme_member, TokenInput(name="t"), actor=None).token.id,
        ),
    ],
    # usage
    "usage.retention.update_retention": [
        lambda w: partial(retention.update_retention, w.acme_admin, body_days=1, record_days=2),
    ],
    "usage.retention.prune": [lambda w: partial(retention.prune, actor=w.acme_admin)],
}


def test_every_write_service_has_a_case():
    """A new write service fails here until someone says who it must refuse."""
    found = write_services()
    unclassified = found - set(CASES) - set(NOT_ACTOR_CHECKED)
    assert not unclassified, f"add a case to CASES (or a reason) for: {sorted(unclassified)}"
    assert not (set(CASES) | set(NOT_ACTOR_CHECKED)) - found, "a listed service is gone"


def _state() -> tuple[int, int]:
    """Audit rows and the settings version: a write that got through moves one of them."""
    events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0
    return events, read_version()


@pytest.mark.parametrize(
    ("service", "index"),
    [(name, i) for name, calls in sorted(CASES.items()) for i in range(len(calls))],
)
def test_a_write_service_refuses_whoever_may_not_write(world, service, index):
    call = CASES[service][index](world)  # its targets are made (by an admin) here
    before = _state()
    with pytest.raises((PermissionDenied, NotFound)) as caught:
        call()
    db.session.rollback()
    assert caught.value.status_code in (403, 404)
    assert _state() == before
