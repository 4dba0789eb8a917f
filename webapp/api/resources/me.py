"""The token's owner: who am I, my mode (managed or bring-your-own-key), and the
invitations to organizations waiting for me."""

from __future__ import annotations

from typing import Any

from webapp.api.core import actor, route
from webapp.api.resources.orgs import invitation_out, member_out
from webapp.api.schemas import InvitationOut, MemberOut, ModeUpdate, UserOut
from webapp.services.accounts import invitations, users

TAG = "Me"


@route("GET", "/me", summary="The token's owner", tag=TAG, response=UserOut)
def get_me() -> Any:
    return actor()


@route(
    "PATCH",
    "/me",
    summary="Choose managed or bring-your-own-key mode",
    tag=TAG,
    body=ModeUpdate,
    response=UserOut,
)
def set_mode(body: ModeUpdate) -> Any:
    user = actor()
    users.set_mode(user, body.mode, actor=user)
    return user


@route(
    "GET",
    "/me/invitations",
    summary="Invitations waiting for me",
    tag=TAG,
    response=list[InvitationOut],
)
def my_invitations() -> Any:
    """Unexpired invitations for my email to organizations I am not in yet."""
    return [invitation_out(i) for i in invitations.pending_for(actor())]


@route(
    "POST",
    "/me/invitations/<int:invitation_id>/accept",
    summary="Accept an invitation",
    tag=TAG,
    response=MemberOut,
    status=201,
)
def accept_invitation(invitation_id: int) -> Any:
    return member_out(invitations.accept(actor(), invitation_id))


@route(
    "POST",
    "/me/invitations/<int:invitation_id>/decline",
    summary="Decline an invitation",
    tag=TAG,
    status=204,
)
def decline_invitation(invitation_id: int) -> Any:
    invitations.decline(actor(), invitation_id)
