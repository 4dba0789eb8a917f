"""Money pages: credits and budgets of users, orgs and access tokens (``/billing/…``), the
usage record a ledger line points at, and the admin's billing settings (``/admin/billing``)."""

from flask import Blueprint

bp = Blueprint("billing", __name__)

from webapp.blueprints.billing import routes, settings  # noqa: E402,F401
from webapp.blueprints.billing.panels import budgets_panel, credits_panel  # noqa: E402

bp.add_app_template_global(credits_panel, "credits_panel")
bp.add_app_template_global(budgets_panel, "budgets_panel")
