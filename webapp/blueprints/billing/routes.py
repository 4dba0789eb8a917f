"""Credits and budgets of a user (``/admin/users/<id>/…``, admins), an organization
(``/admin/orgs/<id>/…``: admins; its org admins may look), an access token's budgets
(``/tokens/<id>/budgets``: its owner) and the signed-in user's own (``/account/credits``,
``/account/budgets``): each section as an htmx swap or on its page, granting and adjusting
credits (admins), creating, editing and deleting budgets (admins; members for their own
tokens), and the usage record a ledger line links to."""

from __future__ import annotations

from typing import Any

from flask import make_response, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.blueprints.billing import bp
from webapp.blueprints.billing.forms import BudgetForm, CreditForm, budget_form
from webapp.blueprints.billing.panels import budgets_for, credits_for, owner_of
from webapp.extensions import db
from webapp.forms import attach_errors
from webapp.htmx import render, respond
from webapp.models import Budget
from webapp.permissions import admin_required, org_admin_required
from webapp.services.billing import budgets, ledger
from webapp.services.billing.access import BillingOwner, billing_owner, get_usage_record
from webapp.services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from webapp.template_filters import price
from webapp.views.conflicts import keep_typed

PAGE = "billing/owner.html"
CREDITS = "billing/_credits.html"
BUDGETS = "billing/_budgets.html"


def _owner(kind: str, owner_id: int) -> BillingOwner:
    return billing_owner(current_user, kind, owner_id)  # NotFound unless they may see it


def home_url(owner: BillingOwner) -> str:
    """Where a plain (non-htmx) form post returns to: the page the sections sit on."""
    if owner.kind == "org":
        return url_for("orgs.show", org_id=owner.id)
    if owner.kind == "token":
        return url_for("billing.token_budgets", token_id=owner.id)
    return url_for("users.show", user_id=owner.id)


def _respond(
    owner: BillingOwner, partial: str, status: int = 200, notice: str | None = None, **ctx: Any
) -> Response:
    """The section for htmx; the owner's page for plain GETs and errors; 303 after success."""

    def view() -> Response:
        ctx.setdefault("credits", credits_for(owner) if owner.has_account else None)
        ctx.setdefault("budgets", budgets_for(owner))
        return render(PAGE, partial, status, owner=owner, **ctx)

    return respond(view, status=status, notice=notice, then=home_url(owner))


def _grant(owner: BillingOwner) -> Response:
    if not owner.may_grant:
        raise PermissionDenied("Only admins grant or adjust credits.")
    form = CreditForm(prefix=f"credits-{owner.kind}-{owner.id}")
    if form.validate_on_submit():
        try:
            amount = ledger.parse_amount(form.amount.data)
            entry = ledger.post_entry(
                current_user,
                owner.ledger_owner,
                amount,
                kind=form.kind.data or "",
                note=form.note.data,
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            amount_text = price(entry.amount)
            notice = f"{entry.kind.title()} of {amount_text} credits recorded for {owner.label}."
            return _respond(owner, CREDITS, notice=notice)
    return _respond(owner, CREDITS, 422, credits=credits_for(owner, form))


def _budget_input(form: BudgetForm) -> budgets.BudgetInput:
    return budgets.BudgetInput(
        period=form.period.data or "",
        unit=form.unit.data or "",
        amount=form.amount.data or "",
        hard=form.enforcement.data == "hard",
        thresholds=form.thresholds.data or None,
    )


def _create_budget(owner: BillingOwner) -> Response:
    if not owner.may_manage_budgets:
        raise PermissionDenied("Only admins set budgets here.")
    form = budget_form(None)
    if form.validate_on_submit():
        try:
            budgets.create_budget(current_user, owner.budget_owner, _budget_input(form))
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return _respond(owner, BUDGETS, notice=f"Budget added for {owner.label}.")
    return _respond(owner, BUDGETS, 422, budgets=budgets_for(owner, create_form=form))


# --- a user's money (admins) ---------------------------------------------------------------


@bp.route("/admin/users/<int:user_id>/credits")
@admin_required
def user_credits(user_id: int) -> Response:
    return _respond(_owner("user", user_id), CREDITS)


@bp.route("/admin/users/<int:user_id>/credits", methods=["POST"])
@admin_required
def grant_user(user_id: int) -> Response:
    return _grant(_owner("user", user_id))


@bp.route("/admin/users/<int:user_id>/budgets")
@admin_required
def user_budgets(user_id: int) -> Response:
    return _respond(_owner("user", user_id), BUDGETS)


@bp.route("/admin/users/<int:user_id>/budgets", methods=["POST"])
@admin_required
def create_user_budget(user_id: int) -> Response:
    return _create_budget(_owner("user", user_id))


# --- an organization's money (admins; its org admins may look) -----------------------------


@bp.route("/admin/orgs/<int:org_id>/credits")
@org_admin_required
def org_credits(org_id: int) -> Response:
    return _respond(_owner("org", org_id), CREDITS)


@bp.route("/admin/orgs/<int:org_id>/credits", methods=["POST"])
@org_admin_required
def grant_org(org_id: int) -> Response:
    return _grant(_owner("org", org_id))


@bp.route("/admin/orgs/<int:org_id>/budgets")
@org_admin_required
def org_budgets(org_id: int) -> Response:
    return _respond(_owner("org", org_id), BUDGETS)


@bp.route("/admin/orgs/<int:org_id>/budgets", methods=["POST"])
@org_admin_required
def create_org_budget(org_id: int) -> Response:
    return _create_budget(_owner("org", org_id))


# --- one budget ----------------------------------------------------------------------------


def _budget(budget_id: int, token_id: int | None = None) -> tuple[BillingOwner, Budget]:
    budget = budgets.get_budget(current_user, budget_id)  # NotFound unless they manage it
    kind, owner_id = owner_of(budget)
    if token_id is not None and (kind, owner_id) != ("token", token_id):
        raise NotFound("That budget does not exist.")
    return _owner(kind, owner_id), budget


def _update_budget(budget_id: int, token_id: int | None = None) -> Response:
    owner, budget = _budget(budget_id, token_id)
    form = budget_form(budget)
    if form.validate_on_submit():
        try:
            budgets.update_budget(current_user, budget, _budget_input(form), form.version.data)
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        except Conflict as exc:
            db.session.rollback()  # the budget as stored now
            form = keep_typed(form, budget_form(budget, formdata=None), exc.message)
            panel = budgets_for(owner, edited=(budget_id, form))
            return _respond(owner, BUDGETS, 409, budgets=panel)
        else:
            return _respond(owner, BUDGETS, notice="Budget saved.")
    return _respond(owner, BUDGETS, 422, budgets=budgets_for(owner, edited=(budget_id, form)))


def _delete_budget(budget_id: int, token_id: int | None = None) -> Response:
    owner, budget = _budget(budget_id, token_id)
    budgets.delete_budget(current_user, budget)
    return _respond(owner, BUDGETS, notice="Budget removed.")


@bp.route("/admin/billing/budgets/<int:budget_id>", methods=["POST"])
@admin_required
def update_budget(budget_id: int) -> Response:
    return _update_budget(budget_id)


@bp.route("/admin/billing/budgets/<int:budget_id>/delete", methods=["POST"])
@admin_required
def delete_budget(budget_id: int) -> Response:
    return _delete_budget(budget_id)


# --- an access token's budgets (its owner; admins; org admins may look at service tokens) --


@bp.route("/tokens/<int:token_id>/budgets")
@login_required
def token_budgets(token_id: int) -> Response:
    return _respond(_owner("token", token_id), BUDGETS)


@bp.route("/tokens/<int:token_id>/budgets", methods=["POST"])
@login_required
def create_token_budget(token_id: int) -> Response:
    return _create_budget(_owner("token", token_id))


@bp.route("/tokens/<int:token_id>/budgets/<int:budget_id>", methods=["POST"])
@login_required
def update_token_budget(token_id: int, budget_id: int) -> Response:
    return _update_budget(budget_id, token_id)


@bp.route("/tokens/<int:token_id>/budgets/<int:budget_id>/delete", methods=["POST"])
@login_required
def delete_token_budget(token_id: int, budget_id: int) -> Response:
    return _delete_budget(budget_id, token_id)


# --- the signed-in user's own --------------------------------------------------------------


@bp.route("/account/credits")
@login_required
def my_credits() -> Response:
    return _respond(_owner("user", current_user.id), CREDITS)


@bp.route("/account/budgets")
@login_required
def my_budgets() -> Response:
    return _respond(_owner("user", current_user.id), BUDGETS)


@bp.route("/account/usage/<int:record_id>")
@login_required
def usage_record(record_id: int) -> Response:
    """One metered call, as a ledger line links to it: the viewer's own, their org's for org
    admins, any for admins (others are 404). The upstream's error text is for admins only."""
    record = get_usage_record(current_user, record_id)
    body = render_template(
        "billing/usage_record.html", record=record, show_detail=current_user.is_admin
    )
    return make_response(body)
