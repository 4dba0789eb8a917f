"""Organization invitations: how an org admin adds someone by email without learning whether
that email has an account. The answer is the same either way — an invitation that its owner
accepts or declines after signing in. Site admins, who see every user anyway, may still add
an existing user directly."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Membership, Organization, OrgInvitation, OrgRole, User
from webapp.models.base import utcnow
from webapp.services.accounts import orgs
from webapp.services.accounts.users import find_by_email, normalize_email
from webapp.services.changes import Change, commit_changes, conflict_on_stale
from webapp.services.errors import NotFound, PermissionDenied, ValidationError

log = logging.getLogger(__name__)

VALID_DAYS = 30


@dataclass(frozen=True)
class Added:
    """What adding someone by email did: a membership (a site admin adding an existing user)
    or an invitation (everything else)."""

    email: str
    membership: Membership | None = None
    invitation: OrgInvitation | None = None


def _checked(email: str, org_role: str) -> str:
    if org_role not in tuple(OrgRole):
        raise ValidationError({"org_role": "Choose member or org admin."})
    return normalize_email(email or "")


def add_by_email(actor: User, org: Organization, email: str, org_role: str) -> Added:
    """The org page's "add a member": direct for site admins and known users, else an invitation."""
    email = _checked(email, org_role)
    if actor.is_admin and find_by_email(email) is not None:
        return Added(email, membership=orgs.add_member(actor, org, email, org_role))
    return Added(email, invitation=invite(actor, org, email, org_role))


def invite_by_email(actor: User, org: Organization, email: str, org_role: str) -> OrgInvitation:
    """Always an invitation, whoever the actor is (the API's invitations route): the same
    checks as ``add_by_email``, and the same answer whether or not the email has an account."""
    return invite(actor, org, _checked(email, org_role), org_role)


def _member_emails(org_id: int) -> set[str]:
    """Emails of the org's members, which its admins see on the org page anyway."""
    return set(
        db.session.scalars(
            sa.select(User.email).join(Membership).where(Membership.org_id == org_id)
        )
    )


def invite(actor: User, org: Organization, email: str, org_role: str) -> OrgInvitation:
    """Record (or renew for another ``VALID_DAYS``) an invitation for ``email`` (audited)."""
    if not orgs.may_manage(actor, org.id):
        raise PermissionDenied("Only this organization's admins invite people.")
    if email in _member_emails(org.id):
        raise ValidationError({"email": f"{email} is already a member."})
    invitation = db.session.scalar(
        sa.select(OrgInvitation).where(OrgInvitation.org_id == org.id, OrgInvitation.email == email)
    )
    if invitation is None:
        invitation = OrgInvitation(org_id=org.id, email=email)
        db.session.add(invitation)
    invitation.org_role, invitation.invited_by_id = org_role, actor.id
    invitation.expires_at = utcnow() + timedelta(days=VALID_DAYS)
    # The same invitation recorded at the same moment elsewhere breaks the unique email.
    conflict = f"{email} was invited at the same moment. Reload the page."
    with conflict_on_stale(conflict, IntegrityError):
        db.session.flush()
        change = _change("invite", invitation, org, {"org_role": org_role})
        commit_changes(actor, [change], conflict=conflict, also=(IntegrityError,))
    return invitation


def list_for_org(org_id: int) -> list[OrgInvitation]:
    """The org's invitations, pending and expired, for its admins."""
    return list(
        db.session.scalars(
            sa.select(OrgInvitation)
            .where(OrgInvitation.org_id == org_id)
            .order_by(OrgInvitation.email)
        )
    )


def revoke(actor: User, org: Organization, invitation_id: int) -> OrgInvitation:
    """Withdraw an invitation before it is accepted (audited)."""
    invitation = db.session.get(OrgInvitation, invitation_id)
    if invitation is None or invitation.org_id != org.id or not orgs.may_manage(actor, org.id):
        raise NotFound("That invitation does not exist.")
    _delete("revoke", invitation, actor, org)
    return invitation


def pending_for(user: User) -> list[OrgInvitation]:
    """Unexpired invitations for the user's email to active orgs they are not in yet."""
    member_of = [m.org_id for m in user.memberships] or [-1]
    return list(
        db.session.scalars(
            sa.select(OrgInvitation)
            .join(Organization)
            .where(
                OrgInvitation.email == user.email,
                OrgInvitation.expires_at > utcnow(),
                OrgInvitation.org_id.not_in(member_of),
                Organization.archived_at.is_(None),
            )
            .order_by(Organization.name)
        )
    )


def _own(user: User, invitation_id: int) -> OrgInvitation:
    invitation = db.session.get(OrgInvitation, invitation_id)
    if invitation is None or invitation not in pending_for(user):
        raise NotFound("That invitation does not exist or has expired.")
    return invitation


def accept(user: User, invitation_id: int) -> Membership:
    """Join the organization with the invited role (audited as the new membership)."""
    invitation = _own(user, invitation_id)
    org = invitation.organization
    membership = Membership(org_id=org.id, user_id=user.id, org_role=invitation.org_role)
    db.session.add(membership)
    joined = {"org": org.slug, "org_role": invitation.org_role, "invitation": "accepted"}
    commit_changes(
        user,
        [Change("create", "membership", user.id, user.email, joined, org.id)],
        delete=[invitation],
        # accepted twice at the same moment: the first one counts
        conflict="You have already joined this organization.",
        also=(IntegrityError,),
    )
    log.info("%s joined %s by invitation", user.email, org.slug)
    return membership


def decline(user: User, invitation_id: int) -> OrgInvitation:
    """Refuse an invitation; it disappears for the user and the org (audited)."""
    invitation = _own(user, invitation_id)
    _delete("decline", invitation, user, invitation.organization)
    return invitation


def _change(action: str, invitation: OrgInvitation, org: Organization, changes: dict) -> Change:
    summary = {"org": org.slug, **changes}
    return Change(action, "invitation", invitation.id, invitation.email, summary, org.id)


def _delete(action: str, invitation: OrgInvitation, actor: User, org: Organization) -> None:
    """Revoked or declined: audited, gone for the user and the org."""
    change = _change(action, invitation, org, {"org_role": invitation.org_role})
    commit_changes(
        actor,
        [change],
        delete=[invitation],
        conflict="Someone else changed this invitation at the same moment. Reload the page.",
    )
