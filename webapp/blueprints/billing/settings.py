"""Admin: billing settings (``/admin/billing``) — whether managed calls need credits, and
the time zone budget periods follow."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.billing import bp
from webapp.blueprints.billing.forms import BillingSettingsForm
from webapp.forms import attach_errors
from webapp.htmx import render, respond
from webapp.permissions import admin_required
from webapp.services.billing import config
from webapp.services.errors import ValidationError

PAGE, PARTIAL = "billing/settings.html", "billing/_settings.html"
ZONES = sorted(available_timezones())


def _page(form: BillingSettingsForm | None = None, status: int = 200) -> Response:
    if form is None:
        current = config.current()
        form = BillingSettingsForm(
            formdata=None, credits_required=current.credits_required, timezone=current.timezone
        )
    return render(PAGE, PARTIAL, status, form=form, zones=ZONES, current=config.current())


@bp.route("/admin/billing")
@admin_required
def settings() -> Response:
    return _page()


@bp.route("/admin/billing", methods=["POST"])
@admin_required
def save_settings() -> Response:
    form = BillingSettingsForm()
    if form.validate_on_submit():
        try:
            saved = config.update_billing(
                current_user,
                credits_required=bool(form.credits_required.data),
                timezone=form.timezone.data or "",
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            notice = (
                "Billing settings saved: managed calls "
                f"{'need' if saved.credits_required else 'do not need'} credits; "
                f"budget periods follow {saved.timezone}."
            )
            return respond(_page, notice=notice, then=url_for("billing.settings"))
    return _page(form, 422)
