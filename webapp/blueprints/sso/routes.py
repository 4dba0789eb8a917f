"""``/login/sso/<name>`` → the identity provider → ``/login/sso/<name>/callback``, which
checks state, exchanges the code with the PKCE verifier, checks the ID token, and starts the
session the same way as a password sign-in. Also ``/reauth`` by SSO, and the admin's
link/unlink of identities on a user's page."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from flask import (
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.auth.forms import LoginForm, ReauthForm
from webapp.blueprints.sso import bp
from webapp.blueprints.sso.forms import LinkIdentityForm
from webapp.extensions import limiter
from webapp.forms import attach_errors
from webapp.htmx import redirect_to, render, respond
from webapp.models import User
from webapp.permissions import admin_required
from webapp.services.accounts import oidc, sessions, sso, users
from webapp.services.accounts.sso_config import OidcProvider
from webapp.services.errors import NotFound, ValidationError
from webapp.sign_in import (
    confirm_recent_sign_in,
    recent_sign_in_required,
    same_site_path,
    start_session,
)

log = logging.getLogger(__name__)

FLOW = "_oidc_flow"  # the pending round trip: provider, state, nonce, PKCE verifier, next
FLOW_MAX_AGE = 10 * 60  # seconds the user may spend at the identity provider
EXPIRED = "This sign-in was not started here or took too long. Start again."


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _provider(name: str) -> OidcProvider:
    provider = sso.provider_named(name)
    if provider is None:
        abort(404)
    return provider


def _redirect_uri(provider: OidcProvider) -> str:
    return url_for("sso.callback", name=provider.name, _external=True)


def _refused(message: str, status: int) -> Response:
    """The sign-in page again, with why; no session is started."""
    return make_response(
        render_template("auth/login.html", form=LoginForm(), sso_error=message), status
    )


@bp.route("/login/sso/<name>")
@limiter.limit(_login_limit)
def start(name: str) -> Response:
    """Send the browser to the provider with a fresh state, nonce and PKCE challenge."""
    provider = _provider(name)
    reauth = request.args.get("reauth") == "1"
    target = same_site_path(request.args.get("next")) or url_for("main.home")
    if reauth and not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=target))
    if not reauth and current_user.is_authenticated:
        return redirect(target)
    try:
        auth = oidc.authorization_request(provider, _redirect_uri(provider), reauth=reauth)
    except oidc.OidcError as exc:
        return _refused(exc.message, exc.status)
    session[FLOW] = {
        "provider": provider.name,
        "state": auth.state,
        "nonce": auth.nonce,
        "verifier": auth.code_verifier,
        "next": target,
        "reauth": reauth,
        "at": sessions.now(),
    }
    return redirect(auth.url)


def _pending_flow(provider: OidcProvider) -> dict[str, Any] | None:
    """The round trip this browser started with this provider, if ``state`` matches it."""
    flow = session.pop(FLOW, None)
    state = request.args.get("state", "")
    if not isinstance(flow, dict) or flow.get("provider") != provider.name:
        return None
    if not state or not secrets.compare_digest(str(flow.get("state", "")), state):
        return None
    if not 0 <= sessions.now() - int(flow.get("at", 0)) <= FLOW_MAX_AGE:
        return None
    return flow


@bp.route("/login/sso/<name>/callback")
@limiter.limit(_login_limit)
def callback(name: str) -> Response:
    provider = _provider(name)
    flow = _pending_flow(provider)
    if request.args.get("error"):
        code = re.sub(r"[^a-z_]", "", request.args["error"].lower())[:40]
        log.warning("sign-in with %s: the provider answered error %s", provider.name, code)
        return _refused(f"{provider.label} did not sign you in ({code}).", 400)
    if flow is None:
        log.warning("sign-in with %s refused: unknown, expired or mismatched state", provider.name)
        return _refused(EXPIRED, 400)
    code = request.args.get("code", "")
    if not code or len(code) > 2048:
        return _refused(EXPIRED, 400)
    try:
        claims = oidc.finish(
            provider, code, _redirect_uri(provider), flow["verifier"], flow["nonce"]
        )
    except oidc.OidcError as exc:
        return _refused(exc.message, exc.status)
    if flow.get("reauth"):
        return _reauthenticated(provider, claims, flow["next"])
    try:
        user = sso.sign_in(provider, claims)
    except sso.SsoRefused as exc:
        return _refused(exc.message, exc.status_code)
    start_session(user, remember=False)
    return redirect_to(flow["next"], notice=f"Signed in as {user.email}.")


def _reauthenticated(provider: OidcProvider, claims: dict[str, Any], target: str) -> Response:
    """A fresh sign-in at the provider counts as a recent sign-in when it is this user's."""
    if not current_user.is_authenticated or not sso.reauth_matches(provider, claims, current_user):
        log.warning("re-authentication with %s by another identity refused", provider.name)
        message = f"That {provider.label} identity is not linked to your account."
        page = render_template("auth/reauth.html", form=ReauthForm(), sso_error=message)
        return make_response(page, 403)
    confirm_recent_sign_in()
    return redirect(target, 303)


def _identities(
    user: User,
    form: LinkIdentityForm | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    """The identities partial for htmx; plain posts go back to the user's page (or show it
    again with the errors)."""
    return respond(
        lambda: render(
            "users/user.html",
            "sso/_identities.html",
            status,
            u=user,
            sso_link_form=form or LinkIdentityForm(formdata=None),
        ),
        status=status,
        notice=notice,
        then=url_for("users.show", user_id=user.id),
    )


def _user(user_id: int) -> User:
    try:
        return users.get_user(user_id)
    except NotFound:
        abort(404)


@bp.route("/admin/users/<int:user_id>/sso", methods=["POST"])
@admin_required
@recent_sign_in_required
def link(user_id: int) -> Response:
    user = _user(user_id)
    form = LinkIdentityForm()
    if not form.validate_on_submit():
        return _identities(user, form, 422)
    try:
        sso.link_identity(current_user, user, form.provider.data or "", form.subject.data or "")
    except ValidationError as exc:
        attach_errors(form, exc.errors)
        return _identities(user, form, 422)
    return _identities(user, notice=f"Sign-in identity linked to {user.email}.")


@bp.route("/admin/users/<int:user_id>/sso/<int:identity_id>/delete", methods=["POST"])
@admin_required
def unlink(user_id: int, identity_id: int) -> Response:
    user = _user(user_id)
    try:
        sso.unlink_identity(current_user, user, identity_id)
    except NotFound:
        abort(404)
    return _identities(user, notice=f"Sign-in identity unlinked from {user.email}.")


@bp.app_context_processor
def sso_context() -> dict[str, Any]:
    """What the sign-in, re-authentication and user pages show about single sign-on."""
    return {
        "sso_providers": sso.providers(),
        "password_sign_in": current_app.config.get("PASSWORD_SIGN_IN", True),
        "sso_identities_of": sso.identities_of,
        "sso_provider_label": sso.provider_label,
        "sso_link_form_for": lambda: LinkIdentityForm(formdata=None),
    }
