"""The per-provider key panel, shared by /admin/keys, /account and the org pages.

One set of views parameterised by an ``Owner`` and the endpoints of its area, so the three
pages behave identically and no view block is copied between them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.extensions import db
from webapp.forms import attach_errors, bounded_id
from webapp.htmx import render, respond
from webapp.models import Credential, Protocol, Provider
from webapp.services import llm
from webapp.services.credentials import confirmation
from webapp.services.credentials import storage as credentials
from webapp.services.credentials.confirmation import EnvKeyStatus, env_key_status
from webapp.services.credentials.origins import Pause, credential_pause, shown_origin
from webapp.services.credentials.storage import CredentialInput, Owner
from webapp.services.errors import Conflict, NotFound, ValidationError
from webapp.views.conflicts import keep_typed
from webapp.views.credential_form import CredentialEditForm, CredentialForm


@dataclass(frozen=True)
class Endpoints:
    """Endpoint names of one area; ``args`` are its URL arguments (e.g. the org id)."""

    page: str
    panel: str
    create: str
    update: str
    delete: str
    test: str
    confirm: str
    args: dict[str, Any] = field(default_factory=dict)

    def url(self, name: str, **values: Any) -> str:
        return url_for(getattr(self, name), **self.args, **values)

    @classmethod
    def named(cls, page: str, prefix: str, **args: Any) -> Endpoints:
        """The key routes of an area, named ``<prefix>panel``, ``<prefix>create`` …"""
        return cls(
            page,
            panel=f"{prefix}panel",
            create=f"{prefix}create",
            update=f"{prefix}update",
            delete=f"{prefix}delete",
            test=f"{prefix}test",
            confirm=f"{prefix}confirm",
            args=args,
        )


@dataclass
class Panel:
    provider: Provider
    credentials: list[Credential]
    endpoints: Endpoints
    add_form: CredentialForm
    editing_id: int | None = None
    edit_form: CredentialEditForm | None = None
    show_base_url: bool = True
    add_open: bool = False
    test_label: str = "Test key"
    pauses: dict[int, Pause] = field(default_factory=dict)  # credential id -> why it is paused
    env_key: EnvKeyStatus | None = None  # the fallback key, on the global Keys page only

    @property
    def dom_id(self) -> str:
        return f"keys-{self.provider.slug}"


def add_prefix(provider_id: int) -> str:
    return f"add-{provider_id}"


def edit_prefix(credential_id: int) -> str:
    return f"edit-{credential_id}"


def edit_form_for(credential: Credential) -> CredentialEditForm:
    form = CredentialEditForm(
        formdata=None,
        prefix=edit_prefix(credential.id),
        label=credential.label,
        base_url=credential.base_url,
        version=credential.version,
    )
    if credential.expires_at:
        form.expires_on.data = (credential.expires_at - timedelta(days=1)).date()
    return form


def _confirm_label(form: CredentialForm, pause: Pause | None) -> None:
    """Name the host when the key is paused; otherwise the box applies to a URL being typed."""
    if pause is not None:
        form.confirm_origin.label.text = f"Send the existing key to {pause.new_host}"


def build_panel(
    owner: Owner,
    provider: Provider,
    endpoints: Endpoints,
    *,
    base_url_for_all: bool,
    owned: list[Credential] | None = None,
    **extra: Any,
) -> Panel:
    """``owned``: the owner's keys when the caller listed them already (one query per page)."""
    owned = credentials.list_credentials(owner) if owned is None else owned
    creds = [c for c in owned if c.provider_id == provider.id]
    show = base_url_for_all or provider.protocol == Protocol.OPENAI_COMPATIBLE
    add_form = CredentialForm(formdata=None, prefix=add_prefix(provider.id))
    panel = Panel(provider, creds, endpoints, add_form, show_base_url=show)
    panel.pauses = {c.id: p for c in creds if (p := credential_pause(c)) is not None}
    for name, value in extra.items():
        setattr(panel, name, value)
    if panel.editing_id is not None and panel.edit_form is None:
        panel.edit_form = edit_form_for(next(c for c in creds if c.id == panel.editing_id))
    if panel.edit_form is not None:
        _confirm_label(panel.edit_form, panel.pauses.get(panel.editing_id or 0))
    return panel


def _input(form: CredentialForm) -> CredentialInput:
    return CredentialInput(
        label=form.label.data or "",
        secret=form.secret.data or None,
        base_url=form.base_url.data or None,
        expires_on=form.expires_on.data,
        confirm_origin=bool(form.confirm_origin.data),
    )


def _attach(form: CredentialForm, errors: dict[str, str]) -> None:
    attach_errors(form, errors, aliases={"provider_id": ""})


@dataclass(frozen=True)
class Area:
    """Everything the shared views need to know about one key page."""

    owner: Owner
    endpoints: Endpoints
    base_url_for_all: bool
    page: Callable[..., Response]  # renders the full page with one panel replaced
    test_label: str = "Test key"
    shows_env_key: bool = False
    upstream_detail: bool = False  # an admin page: a failed test quotes the upstream

    def respond(
        self, panel: Panel, status: int = 200, notice: str | None = None, level: str = "success"
    ) -> Response:
        return respond(
            lambda: render(
                "credentials/_panel.html", "credentials/_panel.html", status, panel=panel
            ),
            status=status,
            notice=notice,
            level=level,
            then=self.endpoints.url("page"),
            page=lambda: self.page(status=status, replace=panel),
        )

    def panels(self, providers: list[Provider], replace: Panel | None = None) -> list[Panel]:
        """A panel per provider, from one listing of the owner's keys; ``replace`` stands in
        for its provider's panel (a form with errors, an editor open)."""
        owned = credentials.list_credentials(self.owner)
        return [
            replace
            if replace is not None and replace.provider.id == provider.id
            else self.panel(provider, owned=owned)
            for provider in providers
        ]

    def panel(self, provider: Provider, **extra: Any) -> Panel:
        if self.shows_env_key:
            extra.setdefault("env_key", env_key_status(provider))
        return build_panel(
            self.owner,
            provider,
            self.endpoints,
            base_url_for_all=self.base_url_for_all,
            test_label=self.test_label,
            **extra,
        )


def provider_or_404(provider_id: int) -> Provider:
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("That provider does not exist.")
    return provider


def show_panel(area: Area, provider_id: int) -> Response:
    provider = provider_or_404(provider_id)
    edit = bounded_id(request.args.get("edit"))
    if request.args.get("edit") and edit is None:
        raise NotFound("That key does not exist.")
    if edit is not None:
        credential = credentials.get_credential(current_user, area.owner, edit)  # owner's only
        if credential.provider_id != provider.id:
            raise NotFound("That key does not belong to this provider.")
    return area.respond(area.panel(provider, editing_id=edit))


def create_key(area: Area, provider_id: int) -> Response:
    provider = provider_or_404(provider_id)
    form = CredentialForm(prefix=add_prefix(provider.id))
    if form.validate_on_submit():
        try:
            credential = credentials.create_credential(
                current_user, area.owner, provider.id, _input(form)
            )
        except ValidationError as exc:
            _attach(form, exc.errors)
        else:
            return area.respond(
                area.panel(provider),
                notice=f"Key “{credential.label}” saved for {provider.display_name}.",
            )
    return area.respond(area.panel(provider, add_form=form, add_open=True), 422)


def update_key(area: Area, credential_id: int) -> Response:
    credential = credentials.get_credential(current_user, area.owner, credential_id)
    provider = credential.provider
    form = CredentialEditForm(prefix=edit_prefix(credential.id))
    if form.validate_on_submit():
        try:
            credentials.update_credential(current_user, credential, _input(form), form.version.data)
        except ValidationError as exc:
            _attach(form, exc.errors)
        except Conflict as exc:
            db.session.rollback()
            db.session.refresh(credential)
            form = keep_typed(form, edit_form_for(credential), exc.message)
            return area.respond(area.panel(provider, editing_id=credential.id, edit_form=form), 409)
        else:
            notice, level = f"Key “{credential.label}” updated.", "success"
            if (pause := credential_pause(credential)) is not None:
                notice += (
                    f" It is paused: {pause.why}. Re-enter the key or tick “Send the existing "
                    "key” to use it there."
                )
                level = "warning"
            return area.respond(area.panel(provider), notice=notice, level=level)
    return area.respond(area.panel(provider, editing_id=credential.id, edit_form=form), 422)


def delete_key(area: Area, credential_id: int) -> Response:
    credential = credentials.get_credential(current_user, area.owner, credential_id)
    provider, label = credential.provider, credential.label
    credentials.delete_credential(current_user, credential)
    return area.respond(area.panel(provider), notice=f"Key “{label}” removed.")


def test_key(area: Area, credential_id: int) -> Response:
    """List the provider's models with exactly this key; the panel shows the new status."""
    credential = credentials.get_credential(current_user, area.owner, credential_id)
    provider, label = credential.provider, credential.label
    result = llm.test_connection(
        provider, credential=credential, context=llm.CallContext(user=current_user, caller="test")
    )
    db.session.expire_all()
    current = db.session.get(Provider, provider.id)
    if current is None:  # deleted while the test ran
        raise NotFound("That provider does not exist.")
    panel = area.panel(current)
    if result.ok:
        return area.respond(
            panel,
            notice=f"Key “{label}” works: {result.latency_ms} ms, {len(result.models)} models.",
        )
    message = result.admin_message if area.upstream_detail else result.message
    return area.respond(panel, notice=f"Key “{label}” failed: {message}", level="error")


def confirm_key(area: Area, credential_id: int) -> Response:
    """Resume a paused key: send it to the address shown when the page was loaded."""
    credential = credentials.get_credential(current_user, area.owner, credential_id)
    provider, label = credential.provider, credential.label
    try:
        confirmation.confirm_origin(current_user, credential, request.form.get("origin") or None)
    except Conflict as exc:
        db.session.rollback()
        return area.respond(area.panel(provider), 409, notice=exc.message, level="error")
    host = shown_origin(credential.approved_origin)
    return area.respond(area.panel(provider), notice=f"Key “{label}” will now be sent to {host}.")
