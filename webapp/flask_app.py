"""The Flask class Switchboard runs on: Flask, minus two per-request costs that buy nothing
here, which matter on the gateway's path (thousands of calls a second per worker)."""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from webapp.request_guards import is_token_authenticated


class UnsavedSession(SecureCookieSession):
    """The session of a token-authenticated request: empty, and never written back."""


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except on token-authenticated paths (the gateway and
    the JSON API): their clients send tokens, not cookies, so no cookie is read or set
    there — a browser's session cookie riding along is ignored, never refreshed."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if is_token_authenticated(request.path):
            return UnsavedSession()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if type(session) is UnsavedSession:
            return
        super().save_session(app, session, response)


class SwitchboardFlask(Flask):
    session_interface = SessionInterface()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask asks this of every hook and view on every request, and answers by
        inspecting the function each time; the answer for a given function never changes."""
        sync = self._sync.get(func)
        if sync is None:
            sync = self.async_to_sync(func) if iscoroutinefunction(func) else func
            if len(self._sync) < 4096:  # hooks and views: a fixed set; bound methods hash alike
                self._sync[func] = sync
        return sync
