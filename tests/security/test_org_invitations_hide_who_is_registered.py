"""An org admin adding someone by email cannot tell whether the email is registered: the
answer is an invitation either way, which its owner accepts or declines after signing in.
Site admins, who see every user anyway, still add existing users directly."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.security.sign_in_helpers import HX, sign_in
from webapp.extensions import db
from webapp.models import AuditEvent, Membership, OrgInvitation
from webapp.models.base import utcnow
from webapp.services.accounts import invitations, orgs
from webapp.services.errors import NotFound, PermissionDenied


@pytest.fixture
def acme(app):  # type: ignore[no-untyped-def]
    return factories.make_org("acme", "Acme")


@pytest.fixture
def org_admin(app, acme, member):  # type: ignore[no-untyped-def]
    factories.add_member(acme, member, "org_admin")
    return sign_in(app, member.email)


def _add(client, org, email: str, org_role: str = "member"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/admin/orgs/{org.id}/members", headers=HX, data={"email": email, "org_role": org_role}
    )


def _invitation(org, email: str) -> OrgInvitation | None:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.scalar(
        sa.select(OrgInvitation).where(OrgInvitation.org_id == org.id, OrgInvitation.email == email)
    )


def _members(org) -> set[str]:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return {
        m.user.email
        for m in db.session.scalars(sa.select(Membership).where(Membership.org_id == org.id))
    }


def test_the_answer_is_the_same_whether_or_not_the_email_is_registered(org_admin, acme):
    factories.make_user("known@example.com")
    known = _add(org_admin, acme, "known@example.com")
    unknown = _add(org_admin, acme, "unknown@example.com")
    assert known.status_code == unknown.status_code == 200

    def notice(response, email):  # type: ignore[no-untyped-def]
        return response.headers["HX-Trigger"].replace(email, "EMAIL")

    known_notice = notice(known, "known@example.com")
    unknown_notice = notice(unknown, "unknown@example.com")
    assert known_notice == unknown_notice
    assert "Invitation recorded for EMAIL: they join when they next sign in and accept." in (
        known_notice
    )
    assert _members(acme) == {"member@example.com"}  # nobody joined without accepting
    assert _invitation(acme, "known@example.com") and _invitation(acme, "unknown@example.com")


def test_pending_invitations_are_listed_and_revocable(org_admin, acme):
    _add(org_admin, acme, "someone@example.com", "org_admin")
    page = org_admin.get(f"/admin/orgs/{acme.id}?tab=members").get_data(as_text=True)
    row = page.split('id="invitation-')[1].split("</tr>")[0]
    assert "someone@example.com" in row and "Org admin" in row and "Revoke" in row
    invitation = _invitation(acme, "someone@example.com")
    response = org_admin.post(
        f"/admin/orgs/{acme.id}/invitations/{invitation.id}/delete", headers=HX
    )
    assert response.status_code == 200 and "revoked" in response.headers["HX-Trigger"]
    assert _invitation(acme, "someone@example.com") is None
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "revoke"))
    assert event.target_type == "invitation" and event.org_id == acme.id


def test_inviting_again_renews_the_invitation(org_admin, acme):
    _add(org_admin, acme, "again@example.com")
    first = _invitation(acme, "again@example.com")
    first.expires_at = utcnow() + timedelta(days=1)
    db.session.commit()
    _add(org_admin, acme, "Again@Example.com", "org_admin")
    renewed = _invitation(acme, "again@example.com")
    assert renewed.id == first.id and renewed.org_role == "org_admin"
    assert renewed.expires_at > utcnow() + timedelta(days=29)


def test_the_invitee_accepts_after_signing_in(app, org_admin, acme):
    _add(org_admin, acme, "later@example.com", "org_admin")
    factories.make_user("later@example.com")  # registered after the invitation
    invitee = sign_in(app, "later@example.com")
    for page in ("/", "/account"):
        body = invitee.get(page).get_data(as_text=True)
        assert 'id="invitations"' in body and "Join <strong>Acme</strong> as an org admin" in body
    invitation = _invitation(acme, "later@example.com")
    response = invitee.post(f"/account/invitations/{invitation.id}/accept", data={"next": "/"})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "later@example.com" in _members(acme)
    assert _invitation(acme, "later@example.com") is None
    assert 'id="invitations"' not in invitee.get("/").get_data(as_text=True)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "membership"))
    assert event.actor_label == "later@example.com"
    assert event.diff == {"org": "acme", "org_role": "org_admin", "invitation": "accepted"}


def test_the_invitee_may_decline(app, org_admin, acme):
    _add(org_admin, acme, "no-thanks@example.com")
    factories.make_user("no-thanks@example.com")
    invitee = sign_in(app, "no-thanks@example.com")
    invitation = _invitation(acme, "no-thanks@example.com")
    response = invitee.post(f"/account/invitations/{invitation.id}/decline")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert _invitation(acme, "no-thanks@example.com") is None
    assert "no-thanks@example.com" not in _members(acme)
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "decline"))


def test_only_the_invited_email_can_answer(app, org_admin, acme):
    _add(org_admin, acme, "target@example.com")
    invitation = _invitation(acme, "target@example.com")
    intruder = sign_in(app, factories.make_user("intruder@example.com").email)
    for action in ("accept", "decline"):
        response = intruder.post(f"/account/invitations/{invitation.id}/{action}")
        assert response.status_code == 404
    assert _invitation(acme, "target@example.com") is not None


def test_an_expired_invitation_is_not_offered_and_cannot_be_accepted(app, org_admin, acme):
    _add(org_admin, acme, "late@example.com")
    invitation = _invitation(acme, "late@example.com")
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    user = factories.make_user("late@example.com")
    assert invitations.pending_for(user) == []
    with pytest.raises(NotFound):
        invitations.accept(user, invitation.id)
    page = org_admin.get(f"/admin/orgs/{acme.id}?tab=members").get_data(as_text=True)
    assert "expired" in page.split('id="invitation-')[1].split("</tr>")[0]


def test_org_admins_cannot_revoke_another_orgs_invitations(app, org_admin, acme, admin):
    other = factories.make_org("globex")
    invitation = invitations.invite(admin, other, "x@example.com", "member")
    response = org_admin.post(f"/admin/orgs/{acme.id}/invitations/{invitation.id}/delete")
    assert response.status_code == 404
    response = org_admin.post(f"/admin/orgs/{other.id}/invitations/{invitation.id}/delete")
    assert response.status_code == 404
    assert _invitation(other, "x@example.com") is not None


def test_site_admins_still_add_existing_users_directly(admin_client, acme):
    factories.make_user("direct@example.com")
    response = _add(admin_client, acme, "direct@example.com")
    assert "direct@example.com added to Acme" in response.headers["HX-Trigger"]
    assert "direct@example.com" in _members(acme)
    response = _add(admin_client, acme, "not-yet@example.com")
    assert "Invitation recorded" in response.headers["HX-Trigger"]


def test_the_direct_add_service_is_for_site_admins_only(acme, member):
    factories.add_member(acme, member, "org_admin")
    factories.make_user("known@example.com")
    with pytest.raises(PermissionDenied):
        orgs.add_member(member, acme, "known@example.com", "member")
