"""The token's owner: who am I, and my mode (managed or bring-your-own-key)."""

from __future__ import annotations

from typing import Any

from webapp.api.core import actor, route
from webapp.api.schemas import ModeUpdate, UserOut
from webapp.services.accounts import users

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
