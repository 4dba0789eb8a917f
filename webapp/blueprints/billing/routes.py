"""Credits and budgets of one owner: the page, its two sections (htmx swaps), granting and
adjusting credits (admins), creating, editing and deleting budgets (admins; members for their
own tokens), and the usage record a ledger line links to."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from webapp.blueprints.billing import bp
from webapp.blueprints.billing.forms import BudgetForm, CreditForm, budget_form
from webapp.blueprints.billing.panels import budgets_for, credits_for, owner_of
from webapp.forms import attach_errors
from webapp.htmx import add_notice, is_partial_request, render
from webapp.models import Budget
from webapp.services.billing import budgets, ledger
from webapp.services.billing.access import BillingOwner, billing_owner, get_usage_record
from webapp.services.errors import Conflict, PermissionDenied, ValidationError

OWNER = "/billing/<any(user,org,token):kind>/<int:owner_id>"
PAGE = "billing/owner.html"
CREDITS = "billing/_credits.html"
BUDGETS = "billing/_budgets.html"


def _owner(kind: str, owner_id: int) -> BillingOwner:
    return billing_owner(current_user, kind, owner_id)


def home_url(owner: BillingOwner) -> str:
    """Where a plain (non-htmx) form post returns to: the page the sections sit on."""
    if owner.kind == "user" and owner.id == current_user.id and not current_user.is_admin:
        return url_for("account.index")
    if owner.kind == "user" and current_user.is_admin:
        return url_for("users.show", user_id=owner.id)
    if owner.kind == "org":
        return url_for("orgs.show", org_id=owner.id)
    return url_for("billing.owner", kind=owner.kind, owner_id=owner.id)


def _respond(
    owner: BillingOwner, partial: str, status: int = 200, notice: str | None = None, **ctx: Any
) -> Response:
    """The section for htmx; the owner's page for plain GETs and errors; 303 after success."""
    if notice and not is_partial_request():
        flash(notice, "success")
        return redirect(home_url(owner), 303)
    ctx.setdefault("credits", credits_for(owner) if owner.has_account else None)
    ctx.setdefault("budgets", budgets_for(owner))
    response = render(PAGE, partial, status, owner=owner, **ctx)
    return add_notice(response, notice) if notice else response


@bp.route(OWNER)
@login_required
def owner(kind: str, owner_id: int) -> Response:
    return _respond(_owner(kind, owner_id), PAGE)


@bp.route(OWNER + "/credits")
@login_required
def credits(kind: str, owner_id: int) -> Response:
    return _respond(_owner(kind, owner_id), CREDITS)


@bp.route(OWNER + "/credits", methods=["POST"])
@login_required
def post_credits(kind: str, owner_id: int) -> Response:
    found = _owner(kind, owner_id)
    if not found.may_grant or not found.has_account:
        raise PermissionDenied("Only admins grant or adjust credits.")
    form = CreditForm(prefix=f"credits-{found.kind}-{found.id}")
    if form.validate_on_submit():
        try:
            amount = ledger.parse_amount(form.amount.data)
            entry = ledger.post_entry(
                current_user,
                found.ledger_owner,
                amount,
                kind=form.kind.data or "",
                note=form.note.data,
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            notice = f"{entry.kind.title()} of {entry.amount:f} credits recorded for {found.label}."
            return _respond(found, CREDITS, notice=notice)
    return _respond(found, CREDITS, 422, credits=credits_for(found, form))


def _budget_input(form: BudgetForm) -> budgets.BudgetInput:
    return budgets.BudgetInput(
        period=form.period.data or "",
        unit=form.unit.data or "",
        amount=form.amount.data or "",
        hard=form.enforcement.data == "hard",
        thresholds=form.thresholds.data or None,
    )


@bp.route(OWNER + "/budgets")
@login_required
def budget_list(kind: str, owner_id: int) -> Response:
    return _respond(_owner(kind, owner_id), BUDGETS)


@bp.route(OWNER + "/budgets", methods=["POST"])
@login_required
def create_budget(kind: str, owner_id: int) -> Response:
    found = _owner(kind, owner_id)
    if not found.may_manage_budgets:
        raise PermissionDenied("You may not set budgets here.")
    form = budget_form(None)
    if form.validate_on_submit():
        try:
            budgets.create_budget(current_user, found.budget_owner, _budget_input(form))
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return _respond(found, BUDGETS, notice=f"Budget added for {found.label}.")
    return _respond(found, BUDGETS, 422, budgets=budgets_for(found, create_form=form))


def _budget(budget_id: int) -> tuple[BillingOwner, Budget]:
    budget = budgets.get_budget(current_user, budget_id)  # NotFound unless they manage it
    return _owner(*owner_of(budget)), budget


@bp.route("/billing/budgets/<int:budget_id>", methods=["POST"])
@login_required
def update_budget(budget_id: int) -> Response:
    found, budget = _budget(budget_id)
    form = budget_form(budget)
    if form.validate_on_submit():
        try:
            budgets.update_budget(current_user, budget, _budget_input(form), form.version.data)
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        except Conflict as exc:
            fresh = budget_form(budgets.get_budget(current_user, budget_id), formdata=None)
            fresh.form_errors.append(exc.message)
            return _respond(
                found, BUDGETS, 409, budgets=budgets_for(found, edited=(budget_id, fresh))
            )
        else:
            return _respond(found, BUDGETS, notice="Budget saved.")
    return _respond(found, BUDGETS, 422, budgets=budgets_for(found, edited=(budget_id, form)))


@bp.route("/billing/budgets/<int:budget_id>/delete", methods=["POST"])
@login_required
def delete_budget(budget_id: int) -> Response:
    found, budget = _budget(budget_id)
    budgets.delete_budget(current_user, budget)
    return _respond(found, BUDGETS, notice="Budget removed.")


@bp.route("/billing/usage/<int:record_id>")
@login_required
def usage_record(record_id: int) -> Response:
    """One metered call, as a ledger line links to it (error details for admins only)."""
    record = get_usage_record(current_user, record_id)
    body = render_template(
        "billing/usage_record.html", record=record, show_detail=current_user.is_admin
    )
    return Response(body)
