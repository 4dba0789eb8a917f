"""One commit path for configuration writes (issue 9 item 3): ``changes.commit_changes``
audits, tells every process, commits, and turns a concurrent save into a Conflict (409) —
for the writes that used to commit on their own: the catalog's defaults and bulk actions,
aliases, members, invitations, users and passwords, the configuration import."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

import webapp.services
from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent, Membership, OrgRole, User
from webapp.services.accounts import invitations, orgs, passwords, users
from webapp.services.catalog import editing, names
from webapp.services.config import apply as config_apply
from webapp.services.errors import Conflict
from webapp.services.settings.cache import read_version

# Services that still audit and commit on their own, and why (outside configuration).
AUDITED_ELSEWHERE = {
    "changes.py": "the commit path",
    "credentials/confirmation.py": "audits each resumed key, then changes.commit_audited",
    "accounts/sessions.py": "a plain UPDATE of the session token: no version to race",
    "accounts/sso.py": "identities made at sign-in by the system; admin links are new rows",
    "billing/ledger.py": "a ledger line on a locked account row, outside configuration",
    "tokens/manage.py": "a token and its budget in one transaction",
    "usage/retention.py": "a prune commits batch by batch, then audits the counts",
}


def test_only_the_commit_path_audits_configuration_writes():
    """A new service that audits and commits by hand fails here: it belongs on
    ``commit_change`` / ``commit_changes`` (or in the list above, with a reason)."""
    root = pathlib.Path(webapp.services.__file__).parent
    auditing = {
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "audit.record(" in path.read_text()
    }
    assert auditing == set(AUDITED_ELSEWHERE)


@pytest.fixture
def acme(app):  # type: ignore[no-untyped-def]
    org = factories.make_org("acme", "Acme")
    factories.add_member(org, factories.make_user("worker@example.com"))
    return org


def _membership(org: Any, email: str) -> Membership:
    return db.session.scalar(
        sa.select(Membership).join(User).where(Membership.org_id == org.id, User.email == email)
    )


def _member(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


# name -> (the write, as an admin; the audit row it leaves: (action, target_type))
WRITES: dict[str, tuple[Callable[[User, Any], Any], tuple[str, str]]] = {
    "set_default": (
        lambda a, o: editing.set_default(a, factories.model("anthropic/claude-haiku-4-5"), "chat"),
        ("update", "model"),
    ),
    "set_enabled_many": (
        lambda a, o: editing.set_enabled_many(a, [factories.model("openai/gpt-5.5").id], False),
        ("update", "model"),
    ),
    "add_live_models": (
        lambda a, o: editing.add_live_models(a, factories.provider("openai"), ["gpt-live-1"]),
        ("create", "model"),
    ),
    "create_alias": (
        lambda a, o: names.create_alias("quick", "openai/gpt-5.5", actor=a),
        ("create", "model_alias"),
    ),
    "delete_alias": (
        lambda a, o: names.delete_alias(
            names.create_alias("quick", "openai/gpt-5.5", actor=a).id, actor=a
        ),
        ("delete", "model_alias"),
    ),
    "add_member": (
        lambda a, o: orgs.add_member(a, o, factories.make_user("new@example.com").email, "member"),
        ("create", "membership"),
    ),
    "set_member_role": (
        lambda a, o: orgs.set_member_role(
            a, o, _membership(o, "worker@example.com").id, OrgRole.ORG_ADMIN
        ),
        ("update", "membership"),
    ),
    "remove_member": (
        lambda a, o: orgs.remove_member(a, o, _membership(o, "worker@example.com").id),
        ("delete", "membership"),
    ),
    "invite": (
        lambda a, o: invitations.invite(a, o, "someone@example.com", "member"),
        ("invite", "invitation"),
    ),
    "revoke": (
        lambda a, o: invitations.revoke(
            a, o, invitations.invite(a, o, "someone@example.com", "member").id
        ),
        ("revoke", "invitation"),
    ),
    "create_user": (
        lambda a, o: users.create_user("new@example.com", factories.PASSWORD, actor=a),
        ("create", "user"),
    ),
    "set_mode": (
        lambda a, o: users.set_mode(_member("worker@example.com"), "byok", actor=a),
        ("update", "user"),
    ),
    "update_user": (
        lambda a, o: users.update_user(
            a,
            _member("worker@example.com"),
            role="member",
            mode="byok",
            active=True,
            expected_version=None,
        ),
        ("update", "user"),
    ),
    "reset_password": (
        lambda a, o: passwords.reset_password(_member("worker@example.com"), actor=a),
        ("update", "user"),
    ),
    "config_import": (
        lambda a, o: config_apply.apply_import(
            a, {"switchboard_config": 1, "settings": {"temperature": 1.5}}
        ),
        ("import", "config"),
    ),
}


def _events() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_write_is_audited_and_announced_to_every_process(admin, acme, name):
    write, (action, target_type) = WRITES[name]
    version = read_version()
    write(admin, acme)
    last = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert (last.action, last.target_type, last.actor_id) == (action, target_type, admin.id)
    assert read_version() > version  # caches everywhere drop what this write changed


def _stale(record: Any) -> None:
    """Someone else saved ``record`` a moment ago: its row's version moved on."""
    table = type(record)
    db.session.execute(
        sa.update(table).where(table.id == record.id).values(version=table.version + 1),
        execution_options={"synchronize_session": False},
    )


STALE: dict[str, tuple[Callable[[User], Any], Callable[[User], Any]]] = {
    # name -> (the record another save changes, the write that must become a Conflict)
    "set_default": (
        lambda a: factories.model("anthropic/claude-haiku-4-5"),
        lambda a: partial(
            editing.set_default, a, factories.model("anthropic/claude-haiku-4-5"), "chat"
        ),
    ),
    "set_enabled_many": (
        lambda a: factories.model("openai/gpt-5.5"),
        lambda a: partial(
            editing.set_enabled_many, a, [factories.model("openai/gpt-5.5").id], False
        ),
    ),
    "reset_password": (
        lambda a: _member("worker@example.com"),
        lambda a: partial(passwords.reset_password, _member("worker@example.com"), actor=a),
    ),
    "set_password": (
        lambda a: _member("worker@example.com"),
        lambda a: partial(
            passwords.set_password, _member("worker@example.com"), "a long new password", actor=a
        ),
    ),
    "set_mode": (
        lambda a: _member("worker@example.com"),
        lambda a: partial(users.set_mode, _member("worker@example.com"), "byok", actor=a),
    ),
    "update_user": (
        lambda a: _member("worker@example.com"),
        lambda a: partial(
            users.update_user,
            a,
            _member("worker@example.com"),
            role="member",
            mode="byok",
            active=True,
            expected_version=None,
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(STALE))
def test_a_save_that_lost_a_race_is_a_conflict_and_saves_nothing(admin, acme, name):
    target, make_write = STALE[name]
    record = target(admin)  # as this save loaded it, before the other one committed
    write = make_write(admin)
    events, version = _events(), read_version()
    _stale(record)
    with pytest.raises(Conflict):
        write()
    assert (_events(), read_version()) == (events, version)
