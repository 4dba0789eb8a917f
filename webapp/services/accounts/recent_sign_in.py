"""Proof of a recent sign-in for the changes that need one, checked by the services that make
them, so that no route can forget it (and no second route to the same change can skip it).

How recently the person behind a request proved who they are is the request layer's
knowledge, so that layer *vouches* once per request: the pages with "the password was typed
in this session within the last 15 minutes" (``webapp/sign_in.py``), the management API with
"the access token has the ``full`` scope" — such tokens are minted only after a recent
sign-in (``services/tokens/manage.py``). A request nobody vouched for (the gateway, say) is
never recent. Outside any request (the command line, the seed, start-up) the operator at the
server's console needs no proof.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import g, has_request_context

from webapp.services.errors import PermissionDenied

_VOUCHER = "_recent_sign_in_voucher"


class RecentSignInRequired(PermissionDenied):
    """The change needs a recent sign-in: pages answer with the password prompt (``/reauth``),
    the API with a 403 asking for a ``full`` token."""

    def __init__(self, action: str) -> None:
        super().__init__(f"{action} needs a recent sign-in: confirm your password to continue.")
        self.action = action


def vouch(check: Callable[[], bool]) -> None:
    """The request layer says how to tell, for this request, whether the sign-in is recent
    (asked only when a service needs to know, and each time it does)."""
    setattr(g, _VOUCHER, check)


def is_recent() -> bool:
    """True outside a request, or when this request's voucher says so."""
    if not has_request_context():
        return True
    check = g.get(_VOUCHER)
    return bool(check is not None and check())


def require(action: str) -> None:
    """Refuse ``action`` (e.g. "Sending a key to a new address") without a recent sign-in.
    Call it before changing anything, so a refusal leaves nothing half-done."""
    if not is_recent():
        raise RecentSignInRequired(action)
