"""The audit log: who changed what and when, newest first, with filters and readable diffs."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from webapp.blueprints.audit import bp
from webapp.blueprints.audit.forms import AuditFilterForm
from webapp.htmx import render
from webapp.permissions import admin_required
from webapp.services.audit import log as audit_log


def _filters(form: AuditFilterForm) -> audit_log.AuditFilter:
    return audit_log.AuditFilter(
        actor=form.actor.data or "",
        target_type=form.target_type.data or "",
        target=form.target.data or "",
        action=form.action.data or "",
        since=form.since.data,
        until=form.until.data,
    )


@bp.route("")
@admin_required
def index() -> Response:
    form = AuditFilterForm(request.args).offer(audit_log.target_types(), audit_log.actions())
    if not form.validate():
        return render("audit/index.html", "audit/_table.html", 422, form=form, listing=None)
    listing = audit_log.list_events(_filters(form), form.before.data, form.after.data)
    return render(
        "audit/index.html", "audit/_table.html", form=form, listing=listing, args=form.link_args()
    )


@bp.route("/<int:event_id>")
@admin_required
def event(event_id: int) -> Response:
    return render("audit/event.html", "audit/event.html", entry=audit_log.get_entry(event_id))
