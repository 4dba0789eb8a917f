"""Usage pages: parse the filters, call the usage services, pick the template."""

from __future__ import annotations

from typing import Any

from flask import Response as FlaskResponse
from flask import request, stream_with_context, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.blueprints.usage import bp
from webapp.blueprints.usage.forms import MemberUsageForm, RetentionForm, UsageFilterForm
from webapp.forms import attach_errors
from webapp.htmx import render, respond
from webapp.permissions import admin_required, org_admin_required
from webapp.services.errors import ValidationError
from webapp.services.usage import dashboard, export, labels, member, pricing, records, retention
from webapp.services.usage.filters import Filters, Scope, make_filters, scope_for

FILTER_SELECTS = ("model", "provider", "org", "feature")


def _admin_form() -> tuple[UsageFilterForm, Scope, Filters | None]:
    scope = scope_for(current_user)
    form = UsageFilterForm(request.args)
    form.offer({name: labels.options(name, scope.org_ids) for name in FILTER_SELECTS})
    return form, scope, _filters(form, form.values())


def _filters(form: Any, values: dict[str, Any]) -> Filters | None:
    if not form.validate():
        return None
    try:
        return make_filters(form.period.data, form.since.data, form.until.data, values)
    except ValidationError as exc:
        attach_errors(form, exc.errors)
        return None


def _refused(form: Any) -> Response:
    """A 422 naming each field's problem, for responses with no form to show it in (more
    record rows, downloads)."""
    text = "; ".join(
        f"{name or 'form'}: {' '.join(messages)}" for name, messages in form.errors.items()
    )
    return Response(text or "Check the filters.", 422, mimetype="text/plain")


@bp.route("/admin/usage")
@org_admin_required
def admin() -> Response:
    form, scope, filters = _admin_form()
    if filters is None:
        return render("usage/admin.html", "usage/_dashboard.html", 422, form=form, board=None)
    return render(
        "usage/admin.html",
        "usage/_dashboard.html",
        form=form,
        board=dashboard.build(filters, scope),
        listing=records.list_records(filters, scope, cursor=form.after.data or None),
        period_args=form.period_args(),
    )


@bp.route("/admin/usage/records")
@org_admin_required
def admin_records() -> Response:
    form, scope, filters = _admin_form()
    if filters is None:
        return _refused(form)
    page = records.list_records(filters, scope, cursor=form.after.data or None)
    return render(
        "usage/records.html",
        "usage/_record_rows.html",
        form=form,
        filters=filters,
        listing=page,
        period_args=form.period_args(),
        record_endpoint="usage.admin_record",
        more_endpoint="usage.admin_records",
    )


@bp.route("/admin/usage/records/<int:record_id>")
@org_admin_required
def admin_record(record_id: int) -> Response:
    record = records.get_record(record_id, scope_for(current_user))
    return render("usage/record.html", "usage/record.html", record=record, back="usage.admin")


def _download(lines: Any, mimetype: str, name: str) -> Response:
    response = FlaskResponse(stream_with_context(lines), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/usage/export.<any(csv, json):kind>")
@org_admin_required
def admin_export(kind: str) -> Response:
    form, scope, filters = _admin_form()
    if filters is None:
        return _refused(form)
    return _exported(kind, filters, scope)


def _exported(kind: str, filters: Filters, scope: Scope) -> Response:
    name = f"usage-{filters.since.isoformat()}-{filters.until.isoformat()}.{kind}"
    if kind == "csv":
        return _download(export.csv_lines(filters, scope), "text/csv", name)
    return _download(export.json_lines(filters, scope), "application/json", name)


@bp.route("/usage")
@login_required
def index() -> Response:
    form = MemberUsageForm(request.args)
    filters = _filters(form, {})
    if filters is None:
        return render("usage/member.html", "usage/_member_usage.html", 422, form=form, view=None)
    view = member.overview(current_user, filters, cursor=form.after.data or None)
    return render(
        "usage/member.html",
        "usage/_member_usage.html",
        form=form,
        view=view,
        period_args=form.period_args(),
    )


@bp.route("/usage/records/<int:record_id>")
@login_required
def record(record_id: int) -> Response:
    # Members open their own records; admins, who see every record anyway, any.
    scope = Scope() if current_user.is_admin else Scope(user_id=current_user.id)
    found = records.get_record(record_id, scope)
    return render("usage/record.html", "usage/record.html", record=found, back="usage.index")


@bp.route("/usage/export.<any(csv, json):kind>")
@login_required
def export_own(kind: str) -> Response:
    form = MemberUsageForm(request.args)
    filters = _filters(form, {})
    if filters is None:
        return _refused(form)
    return _exported(kind, filters, Scope(user_id=current_user.id))


@bp.route("/pricing")
@login_required
def pricing_page() -> Response:
    return render(
        "usage/pricing.html", "usage/pricing.html", table=pricing.price_list(current_user)
    )


@bp.route("/admin/usage/retention", methods=["GET", "POST"])
@admin_required
def retention_settings() -> Response:
    settings = retention.current()
    form = RetentionForm(obj=settings if request.method == "GET" else None)
    templates = ("usage/retention.html", "usage/_retention_form.html")
    if request.method == "GET":
        return render(*templates, form=form, saved=False)
    if not form.validate():
        return render(*templates, 422, form=form, saved=False)
    try:
        retention.update_retention(
            current_user, body_days=form.body_days.data, record_days=form.record_days.data
        )
    except ValidationError as exc:
        attach_errors(form, exc.errors)
        return render(*templates, 422, form=form, saved=False)
    return respond(
        lambda: render(*templates, form=form, saved=True),
        notice="Retention saved.",
        then=url_for("usage.retention_settings"),
    )
