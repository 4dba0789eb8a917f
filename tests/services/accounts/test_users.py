"""users.update_user and users.list_users: the rules behind /admin/users."""

from __future__ import annotations

import contextlib
import threading

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent, User
from webapp.services.accounts import sessions, users
from webapp.services.errors import Conflict, NotFound, PermissionDenied, ValidationError


def _update(actor, user, **changes):  # type: ignore[no-untyped-def]
    values = {"role": user.role, "mode": user.mode, "active": user.active, **changes}
    return users.update_user(actor, user, expected_version=None, **values)


def _events() -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "update").order_by(AuditEvent.id)
        )
    )


def test_update_changes_role_mode_and_status_and_audits_the_diff(admin, member):
    _update(admin, member, role="admin", mode="byok")
    assert (member.role, member.mode, member.version) == ("admin", "byok", 2)
    (event,) = _events()
    assert event.target_type == "user" and event.actor_label == admin.email
    assert event.diff == {
        "mode": {"before": "managed", "after": "byok"},
        "role": {"before": "member", "after": "admin"},
    }


def test_deactivation_rotates_the_session_token_and_reactivation_keeps_it(admin, member):
    nonce = member.session_token
    _update(admin, member, active=False)
    assert not member.active and member.session_token != nonce
    assert sessions.load_session_user(f"{member.id}:{nonce}:{sessions.now()}") is None
    rotated = member.session_token
    _update(admin, member, active=True)
    assert member.active and member.session_token == rotated
    assert all("session_token" not in str(e.diff) for e in _events())


def test_no_change_is_not_audited_and_keeps_the_version(admin, member):
    _update(admin, member)
    assert member.version == 1 and _events() == []


@pytest.mark.parametrize(
    ("changes", "field"), [({"role": "owner"}, "role"), ({"mode": "free"}, "mode")]
)
def test_unknown_role_or_mode_is_refused_at_the_field(admin, member, changes, field):
    with pytest.raises(ValidationError) as exc:
        _update(admin, member, **changes)
    assert field in exc.value.errors


def test_an_admin_cannot_demote_or_deactivate_themselves(admin):
    factories.make_user("other-admin@example.com", role="admin")
    with pytest.raises(ValidationError) as exc:
        _update(admin, admin, role="member", active=False)
    assert exc.value.errors == {
        "role": "You cannot remove your own admin role. Ask another admin.",
        "active": "You cannot deactivate your own account.",
    }
    _update(admin, admin, mode="byok")  # other changes to oneself are fine
    assert admin.mode == "byok" and admin.role == "admin"


@pytest.mark.parametrize(
    ("changes", "field"), [({"role": "member"}, "role"), ({"active": False}, "active")]
)
def test_the_last_active_admin_is_protected(admin, changes, field):
    factories.make_user("retired-admin@example.com", role="admin", active=False)
    with pytest.raises(ValidationError) as exc:
        _update(None, admin, **changes)  # e.g. from the CLI: no self rule applies
    assert "last active admin" in exc.value.errors[field]
    db.session.refresh(admin)
    assert admin.role == "admin" and admin.active


def test_a_demotion_racing_the_check_is_caught_by_the_recount(admin, monkeypatch):
    """The check saw another admin who was demoted meanwhile (SQLite locks nothing for it)."""
    monkeypatch.setattr(users, "_other_active_admins", lambda user: 1)
    with pytest.raises(ValidationError) as exc:
        _update(None, admin, role="member")
    assert "last active admin" in exc.value.errors["role"]
    db.session.expire_all()
    assert db.session.get(User, admin.id).role == "admin" and _events() == []


@pytest.mark.committed
def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, admin, monkeypatch):
    """Both pass the first check together where they can (SQLite); PostgreSQL's row locks
    make the second wait. Either way exactly one demotion is saved."""
    other = factories.make_user("other-admin@example.com", role="admin")
    barrier, check = threading.Barrier(2), users._other_active_admins
    # PostgreSQL: the other thread is blocked on the row lock and never comes; a short wait
    # lets it queue up. SQLite: both come at once, unless the machine is very busy.
    wait = 2.0 if db.engine.dialect.name == "sqlite" else 0.3

    def checked_together(user: User) -> int:
        count = check(user)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=wait)
        return count

    monkeypatch.setattr(users, "_other_active_admins", checked_together)
    outcomes: list[str] = []

    def demote(actor_id: int, target_id: int) -> None:
        with app.app_context():
            actor, target = db.session.get(User, actor_id), db.session.get(User, target_id)
            try:
                _update(actor, target, role="member")
                outcomes.append("saved")
            except ValidationError as exc:
                outcomes.append(exc.errors["role"])

    threads = [
        threading.Thread(target=demote, args=pair)
        for pair in ((admin.id, other.id), (other.id, admin.id))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == [
        "This is the last active admin. Make someone else an admin first.",
        "saved",
    ]
    db.session.expire_all()
    assert users.list_users(users.UserFilter(role="admin")).total == 1


def test_an_admin_can_be_demoted_while_another_active_admin_remains(admin):
    other = factories.make_user("other-admin@example.com", role="admin")
    _update(admin, other, role="member")
    with pytest.raises(ValidationError):
        _update(None, admin, active=False)
    _update(admin, other, role="admin")
    _update(other, admin, active=False)
    assert not admin.active


def test_an_inactive_admin_can_be_demoted(admin):
    retired = factories.make_user("retired-admin@example.com", role="admin", active=False)
    _update(admin, retired, role="member")
    assert retired.role == "member"


def test_members_may_not_update_users(member, admin):
    with pytest.raises(PermissionDenied):
        _update(member, admin, role="member")


def test_a_stale_expected_version_is_a_conflict(admin, member):
    with pytest.raises(Conflict):
        users.update_user(
            admin, member, role="admin", mode="managed", active=True, expected_version=0
        )
    assert member.role == "member" and _events() == []


def test_a_concurrent_write_while_saving_is_a_conflict(admin, member):
    """Another process saved between our read and our write: the version check catches it."""
    db.session.execute(
        sa.update(User).where(User.id == member.id).values(version=User.version + 1),
        execution_options={"synchronize_session": False},
    )
    with pytest.raises(Conflict):
        _update(admin, member, mode="byok")
    db.session.expire_all()
    assert db.session.get(User, member.id).mode == "managed" and _events() == []


def test_list_users_filters_searches_and_pages(admin):
    factories.make_user("zed@example.com", display_name="Zed 50%_off", active=False)
    for n in range(4):
        factories.make_user(f"user{n}@example.com")
    page = users.list_users(users.UserFilter(q="50%_"))
    assert [u.email for u in page.users] == ["zed@example.com"]
    page = users.list_users(users.UserFilter(q="%"))
    assert [u.email for u in page.users] == ["zed@example.com"]
    page = users.list_users(users.UserFilter(role="member", status="active"), page=2, per_page=3)
    assert (page.page, page.pages, page.total) == (2, 2, 4)
    assert [u.email for u in page.users] == ["user3@example.com"]
    page = users.list_users(users.UserFilter(status="deactivated"), page=50)
    assert page.page == 1 and [u.email for u in page.users] == ["zed@example.com"]
    assert users.list_users(users.UserFilter(role="admin")).total == 1


def test_get_user_of_an_unknown_id_is_not_found(app):
    with pytest.raises(NotFound):
        users.get_user(4242)


def test_an_unknown_email_is_checked_against_a_hash_of_the_configured_method(
    app, member, monkeypatch
):
    """A wrong email costs as long as a wrong password: both checks use the method the app
    is configured with (the tests' cheap one here, scrypt in production)."""
    checked: list[str] = []
    real = users.check_password_hash
    monkeypatch.setattr(
        users, "check_password_hash", lambda hashed, pw: checked.append(hashed) or real(hashed, pw)
    )
    assert users.authenticate("nobody@example.com", "wrong password") is None
    assert users.authenticate(member.email, "wrong password") is None
    unknown, known = (hashed.split("$", 1)[0] for hashed in checked)
    assert unknown == known == app.config["PASSWORD_HASH_METHOD"]
