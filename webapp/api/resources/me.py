"""The token's owner, as the account page shows them: who am I, my mode (managed or
bring-your-own-key), my preferred model, the invitations to organizations waiting for me,
and signing out everywhere."""

from __future__ import annotations

from typing import Any

from webapp.api.core import actor, route
from webapp.api.resources.orgs import invitation_out, member_out
from webapp.api.schemas import (
    InvitationOut,
    MemberOut,
    ModeUpdate,
    PreferenceOut,
    PreferenceUpdate,
    UserOut,
)
from webapp.services.accounts import invitations, sessions, users
from webapp.services.settings import preferences

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


def _preference() -> dict[str, Any]:
    user = actor()
    return {
        "model": preferences.preferred_model(user),
        "allowed_models": [m.global_id for m in preferences.allowed_models(user)],
    }


@route("GET", "/me/preference", summary="My preferred model", tag=TAG, response=PreferenceOut)
def get_preference() -> Any:
    return _preference()


@route(
    "PUT",
    "/me/preference",
    summary="Choose my preferred model",
    tag=TAG,
    body=PreferenceUpdate,
    response=PreferenceOut,
)
def set_preference(body: PreferenceUpdate) -> Any:
    """One of ``allowed_models``, or null for none (the org's or global setting applies)."""
    preferences.set_preferred_model(actor(), body.model or None)
    return _preference()


@route("POST", "/me/sessions/end", summary="Sign me out everywhere", tag=TAG, status=204)
def end_my_sessions() -> Any:
    """Every browser session and remember-me cookie of mine ends (audited), and so do my
    access tokens that reach this API (``read_only`` and ``full``, the one sending this request
    included); gateway-only tokens keep working (revoke them with ``DELETE /tokens/{id}``)."""
    user = actor()
    sessions.end_all_sessions(user, actor=user)
