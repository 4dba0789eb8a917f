"""The playground: preview the effective settings, send, watch the reply stream in, and read
the usage record it wrote."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response as FlaskResponse
from flask import request
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from webapp.blueprints.playground import bp
from webapp.blueprints.playground.forms import PlaygroundForm
from webapp.forms import attach_errors
from webapp.htmx import render
from webapp.permissions import admin_required
from webapp.services import llm
from webapp.services.errors import ServiceError, ValidationError
from webapp.services.llm import playground
from webapp.views.streaming import stream_response

SELECTORS = ("user_id", "org_id", "feature", "model", "temperature", "max_tokens")


def _form(formdata: Any = None) -> PlaygroundForm:
    form = PlaygroundForm(formdata=formdata) if formdata is not None else PlaygroundForm()
    form.fill_choices()
    if formdata is None and not form.is_submitted():
        form.user_id.data = current_user.id
    return form


def _preview(form: PlaygroundForm) -> tuple[Any, str | None]:
    """The settings the call would use, or why it cannot run: said before anything is sent,
    including that another user's personal (BYOK) keys are never spent from here."""
    try:
        playground.build_call({**form.data, "prompt": "-"}, actor=current_user)
        return playground.preview(form.data), None
    except ServiceError as exc:
        return None, exc.message


def _page(form: PlaygroundForm, status: int = 200, **extra: Any) -> Response:
    effective, problem = _preview(form) if form.user_id.data else (None, None)
    return render(
        "playground/index.html",
        "playground/_result.html",
        status,
        form=form,
        effective=effective,
        problem=problem,
        **extra,
    )


@bp.route("")
@admin_required
def index() -> Response:
    return _page(_form())


@bp.route("/effective")
@admin_required
def effective() -> Response:
    """The settings the call would use, refreshed whenever the context changes. Only the
    selectors are read: a prompt never travels in a URL (URLs land in access logs)."""
    args = MultiDict({k: v for k, v in request.args.items() if k in SELECTORS})
    args.setdefault("user_id", str(current_user.id))  # as on the page: the signed-in admin
    form = PlaygroundForm(formdata=args, meta={"csrf": False}).fill_choices()
    form.prompt.validators = []  # the preview needs only the context fields
    if not form.validate():
        return render(
            "playground/index.html",
            "playground/_effective.html",
            422,
            form=form,
            effective=None,
            problem="Choose a user, organization, feature and model from the lists.",
        )
    effective_settings, problem = _preview(form)
    return render(
        "playground/index.html",
        "playground/_effective.html",
        form=form,
        effective=effective_settings,
        problem=problem,
    )


@bp.route("", methods=["POST"])
@admin_required
def run() -> Response:
    """Send without streaming (plain form posts and htmx)."""
    form = _form()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        call = playground.build_call(form.data, actor=current_user)
    except ValidationError as exc:
        attach_errors(form, exc.errors)
        return _page(form, 422)
    try:
        completion = llm.complete(
            call.messages, context=call.context, model=call.model, overrides=call.overrides
        )
    except ServiceError as exc:
        record_id = getattr(exc, "request_id", None)
        record = playground.usage_record(record_id) if record_id else None
        message = exc.admin_message if isinstance(exc, llm.LLMError) else exc.message
        return _page(form, 200, error=message, record=record)
    return _page(
        form, 200, completion=completion, record=playground.usage_record(completion.request_id)
    )


@bp.route("/stream", methods=["POST"])
@admin_required
def stream() -> Response:
    """Stream the reply as plain text; the usage record id is in ``X-Request-Id``."""
    form = _form()
    if not form.validate_on_submit():
        errors = "; ".join(
            f"{form[name].label.text}: {' '.join(msgs)}" for name, msgs in form.errors.items()
        )
        return FlaskResponse(errors, 422, mimetype="text/plain")
    try:
        call = playground.build_call(form.data, actor=current_user)
    except ValidationError as exc:
        return FlaskResponse(exc.message, 422, mimetype="text/plain")
    try:
        reply = llm.stream(
            call.messages, context=call.context, model=call.model, overrides=call.overrides
        )
    except ServiceError as exc:
        headers = {"X-Request-Id": getattr(exc, "request_id", "")}
        message = exc.admin_message if isinstance(exc, llm.LLMError) else exc.message
        return FlaskResponse(message, exc.status_code, headers=headers, mimetype="text/plain")

    def text(events: llm.CompletionStream) -> Iterator[str]:
        try:
            for event in events:
                if event.type == "text":
                    yield event.text
        except llm.LLMError as exc:
            yield f"\n\n[stream failed: {exc.admin_message}]"

    return stream_response(
        reply, text, mimetype="text/plain", headers={"X-Request-Id": reply.request_id}
    )


@bp.route("/records/<request_id>")
@admin_required
def record(request_id: str) -> Response:
    return render(
        "playground/index.html",
        "playground/_record.html",
        record=playground.usage_record(request_id),
        form=_form(),
    )
