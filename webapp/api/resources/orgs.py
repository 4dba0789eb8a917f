"""Organizations and memberships, as the Organizations pages manage them: admins every org,
org admins theirs (name, description, default profile, members)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webapp.api.core import (
    actor,
    encode_cursor,
    id_after,
    only_fields,
    require_admin,
    require_org_admin,
    route,
    take_version,
)
from webapp.api.schemas import (
    CreditEntryIn,
    CreditEntryOut,
    InvitationCreate,
    InvitationOut,
    Listing,
    MemberCreate,
    MemberOut,
    MemberUpdate,
    OrgCreate,
    OrgOut,
    OrgUpdate,
    Page,
)
from webapp.extensions import db
from webapp.models import Membership, Organization, OrgInvitation
from webapp.models.base import utcnow
from webapp.services.accounts import invitations, orgs
from webapp.services.accounts.schemas import ORG_FIELDS
from webapp.services.billing import ledger

TAG = "Organizations"


@route("GET", "/orgs", summary="List organizations", tag=TAG, query=Listing, response=Page[OrgOut])
def list_orgs(query: Listing) -> Any:
    """Every org for admins; the orgs they administer for org admins."""
    user = require_org_admin()
    select = sa.select(Organization).order_by(Organization.id).limit(query.limit + 1)
    if not user.is_admin:
        select = select.where(Organization.id.in_(user.administered_org_ids() or [-1]))
    if (after := id_after(query.cursor)) is not None:
        select = select.where(Organization.id > after)
    found = list(db.session.scalars(select))
    more = len(found) > query.limit
    found = found[: query.limit]
    return {"items": found, "next_cursor": encode_cursor(found[-1].id) if more else None}


@route(
    "POST",
    "/orgs",
    summary="Create an organization",
    tag=TAG,
    body=OrgCreate,
    response=OrgOut,
    status=201,
)
def create_org(body: OrgCreate) -> Any:
    return orgs.create_org(actor(), body.slug, body.name, body.description)


@route("GET", "/orgs/<int:org_id>", summary="Read an organization", tag=TAG, response=OrgOut)
def get_org(org_id: int) -> Any:
    return orgs.get_org(actor(), org_id)


@route(
    "PATCH",
    "/orgs/<int:org_id>",
    summary="Update an organization",
    tag=TAG,
    body=OrgUpdate,
    validate_body=False,
    response=OrgOut,
)
def update_org(org_id: int, body: dict[str, Any]) -> Any:
    """Fields left out keep their values. Allowed models, who pays and archiving are for
    admins; an org admin's values for them are ignored, as on the page."""
    org = orgs.get_org(actor(), org_id)
    version = take_version(body)
    fields = only_fields(body, ORG_FIELDS)
    return orgs.update_org(actor(), org, expected_version=version, **fields)


def member_out(membership: Membership) -> dict[str, Any]:
    return {
        "id": membership.id,
        "user_id": membership.user_id,
        "org_id": membership.org_id,
        "org_role": membership.org_role,
        "email": membership.user.email,
        "created_at": membership.created_at,
    }


@route(
    "GET",
    "/orgs/<int:org_id>/members",
    summary="List an organization's members",
    tag=TAG,
    query=Listing,
    response=Page[MemberOut],
)
def list_members(org_id: int, query: Listing) -> Any:
    org = orgs.get_org(actor(), org_id)
    select = (
        sa.select(Membership)
        .where(Membership.org_id == org.id)
        .order_by(Membership.id)
        .limit(query.limit + 1)
    )
    if (after := id_after(query.cursor)) is not None:
        select = select.where(Membership.id > after)
    found = list(db.session.scalars(select))
    more = len(found) > query.limit
    found = found[: query.limit]
    return {
        "items": [member_out(m) for m in found],
        "next_cursor": encode_cursor(found[-1].id) if more else None,
    }


@route(
    "POST",
    "/orgs/<int:org_id>/members",
    summary="Add a member",
    tag=TAG,
    body=MemberCreate,
    response=MemberOut,
    status=201,
)
def add_member(org_id: int, body: MemberCreate) -> Any:
    """An existing user, by email (admins; org admins invite: ``POST .../invitations``)."""
    org = orgs.get_org(actor(), org_id)
    return member_out(orgs.add_member(actor(), org, body.email, body.org_role))


@route(
    "PATCH",
    "/orgs/<int:org_id>/members/<int:membership_id>",
    summary="Change a member's role",
    tag=TAG,
    body=MemberUpdate,
    response=MemberOut,
)
def update_member(org_id: int, membership_id: int, body: MemberUpdate) -> Any:
    org = orgs.get_org(actor(), org_id)
    return member_out(orgs.set_member_role(actor(), org, membership_id, body.org_role))


@route(
    "DELETE",
    "/orgs/<int:org_id>/members/<int:membership_id>",
    summary="Remove a member",
    tag=TAG,
    status=204,
)
def remove_member(org_id: int, membership_id: int) -> Any:
    orgs.remove_member(actor(), orgs.get_org(actor(), org_id), membership_id)


@route(
    "POST",
    "/orgs/<int:org_id>/credits",
    summary="Grant or adjust an organization's credits",
    tag=TAG,
    body=CreditEntryIn,
    response=CreditEntryOut,
    status=201,
)
def post_org_credits(org_id: int, body: CreditEntryIn) -> Any:
    """Admins only, as on the billing page."""
    user = require_admin()
    org = orgs.get_org(user, org_id)
    amount = ledger.parse_amount(body.amount)
    return ledger.post_entry(
        user, ledger.Owner("org", org.id), amount, kind=body.kind, note=body.note
    )


def invitation_out(invitation: OrgInvitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "org_id": invitation.org_id,
        "org_name": invitation.organization.name,
        "email": invitation.email,
        "org_role": invitation.org_role,
        "invited_by_id": invitation.invited_by_id,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
        "expired": invitation.expires_at <= utcnow(),
    }


@route(
    "GET",
    "/orgs/<int:org_id>/invitations",
    summary="List an organization's invitations",
    tag=TAG,
    response=list[InvitationOut],
)
def list_invitations(org_id: int) -> Any:
    """Pending and expired, for the org's admins (and site admins)."""
    org = orgs.get_org(actor(), org_id)
    return [invitation_out(i) for i in invitations.list_for_org(org.id)]


@route(
    "POST",
    "/orgs/<int:org_id>/invitations",
    summary="Invite someone by email",
    tag=TAG,
    body=InvitationCreate,
    response=InvitationOut,
    status=201,
)
def create_invitation(org_id: int, body: InvitationCreate) -> Any:
    """The org's admins (and site admins) invite by email; the invitee joins after signing in
    with that email and accepting. The answer is the same whether or not the email has an
    account, and holds no secret. Inviting again renews the invitation."""
    org = orgs.get_org(actor(), org_id)
    return invitation_out(invitations.invite_by_email(actor(), org, body.email, body.org_role))


@route(
    "DELETE",
    "/orgs/<int:org_id>/invitations/<int:invitation_id>",
    summary="Revoke an invitation",
    tag=TAG,
    status=204,
)
def revoke_invitation(org_id: int, invitation_id: int) -> Any:
    invitations.revoke(actor(), orgs.get_org(actor(), org_id), invitation_id)
