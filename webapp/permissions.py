"""Role checks for views. Every check runs on the server; templates only hide links."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

from webapp.models import Role

F = TypeVar("F", bound=Callable[..., Any])


def admin_required(view: F) -> F:
    """Signed in and a site admin, else 401/redirect or 403."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.role != Role.ADMIN:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def org_admin_required(view: F) -> F:
    """Signed in and a site admin or an admin of at least one org.

    Which org the user may touch is checked by the service with the org id in hand.
    """

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.role != Role.ADMIN and not current_user.administered_org_ids():
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
