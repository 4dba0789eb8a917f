"""Site-wide settings the admin pages keep (admins only): usage retention and its prune,
billing settings, the hosts allowed in base URLs, and the configuration document (export,
and import with a dry run first).

The pages ask for a fresh sign-in before the configuration document and the allowed hosts;
the API has no sign-in, so a full admin token (not read-only, which the API refuses for
every change and these routes refuse for reading too) is what stands for it — which holds
because a full token can only be created after a recent sign-in (``services/tokens/manage``).
"""

from __future__ import annotations

from typing import Any

from webapp.api.core import ApiError, identity, require_admin, route
from webapp.api.schemas import (
    AllowedHostCreate,
    AllowedHostOut,
    BillingOut,
    BillingUpdate,
    ConfigImport,
    ImportPlanOut,
    PruneOut,
    RetentionOut,
    RetentionUpdate,
)
from webapp.models import TokenScope, User
from webapp.services.billing import config as billing
from webapp.services.config import apply as config_apply
from webapp.services.config import export as config_export
from webapp.services.config import importing as config_import
from webapp.services.config.document import ImportPlan, parse_document
from webapp.services.credentials import allowed_hosts
from webapp.services.usage import retention

SETTINGS = "Site settings"
CONFIG = "Configuration document"


def _full_admin() -> User:
    """An admin whose token is not read-only: the API's stand-in for the page's fresh sign-in."""
    user = require_admin()
    if identity().scope == TokenScope.READ_ONLY:
        raise ApiError(403, "This needs an admin token that is not read-only.")
    return user


# --- usage retention ---------------------------------------------------------------------


@route("GET", "/retention", summary="Usage retention", tag=SETTINGS, response=RetentionOut)
def get_retention() -> Any:
    require_admin()
    return retention.current()


@route(
    "PATCH",
    "/retention",
    summary="Change usage retention",
    tag=SETTINGS,
    body=RetentionUpdate,
    response=RetentionOut,
)
def update_retention(body: RetentionUpdate) -> Any:
    """Fields left out keep their values; null keeps bodies or records forever. Applied by
    ``POST /retention/prune`` or the scheduled ``flask usage prune``."""
    actor = require_admin()
    stored, given = retention.current(), body.model_fields_set
    return retention.update_retention(
        actor,
        body_days=body.body_days if "body_days" in given else stored.body_days,
        record_days=body.record_days if "record_days" in given else stored.record_days,
    )


@route(
    "POST",
    "/retention/prune",
    summary="Apply the retention now",
    tag=SETTINGS,
    response=PruneOut,
)
def prune_usage() -> Any:
    """Clears bodies and deletes records older than the retention, as ``flask usage prune``
    does (audited with the counts and the admin who ran it); the rollups follow."""
    return retention.prune(actor=require_admin())


# --- billing settings --------------------------------------------------------------------


@route("GET", "/billing", summary="Billing settings", tag=SETTINGS, response=BillingOut)
def get_billing() -> Any:
    require_admin()
    return billing.current()


@route(
    "PATCH",
    "/billing",
    summary="Change billing settings",
    tag=SETTINGS,
    body=BillingUpdate,
    response=BillingOut,
)
def update_billing(body: BillingUpdate) -> Any:
    """Fields left out keep their values."""
    actor = require_admin()
    stored = billing.current()
    return billing.update_billing(
        actor,
        credits_required=(
            body.credits_required if body.credits_required is not None else stored.credits_required
        ),
        timezone=body.timezone if body.timezone is not None else stored.timezone,
    )


# --- hosts allowed in base URLs ----------------------------------------------------------


@route(
    "GET",
    "/allowed-hosts",
    summary="Private hosts allowed in base URLs",
    tag=SETTINGS,
    response=list[AllowedHostOut],
)
def list_allowed_hosts() -> Any:
    require_admin()
    return allowed_hosts.list_allowed_hosts()


@route(
    "POST",
    "/allowed-hosts",
    summary="Allow a private host in base URLs (a full admin token)",
    tag=SETTINGS,
    body=AllowedHostCreate,
    response=AllowedHostOut,
    status=201,
    sensitive=True,
)
def add_allowed_host(body: AllowedHostCreate) -> Any:
    """A private or loopback ``host:port`` (a local Ollama, say) that keys may be sent to."""
    return allowed_hosts.add_allowed_host(_full_admin(), body.host, body.note)


@route(
    "DELETE",
    "/allowed-hosts/<int:host_id>",
    summary="Remove an allowed host",
    tag=SETTINGS,
    status=204,
    sensitive=True,
)
def remove_allowed_host(host_id: int) -> Any:
    allowed_hosts.remove_allowed_host(require_admin(), host_id)


# --- configuration document --------------------------------------------------------------


@route(
    "GET",
    "/config/export",
    summary="Export the configuration (a full admin token; never secrets)",
    tag=CONFIG,
    response=dict[str, Any],
    sensitive=True,
)
def export_config() -> Any:
    """Providers, models, settings, profiles, features and orgs as the import reads them;
    never keys, users, memberships, tokens, usage or audit. The page asks for a fresh
    sign-in: here an admin token that is not read-only stands for it."""
    _full_admin()
    return config_export.export_document()


def _plan_out(plan: ImportPlan) -> dict[str, Any]:
    return {
        "applied": plan.applied,
        "summary": plan.summary(),
        "counts": plan.counts(),
        "changes": [
            {
                "kind": change.kind,
                "key": change.key,
                "action": change.action,
                "path": change.path,
                "fields": [
                    {"field": name, "before": before, "after": after}
                    for name, before, after in change.rows()
                ],
            }
            for change in plan.changes
        ],
        "notes": [{"path": note.path, "message": note.message} for note in plan.notes],
    }


@route(
    "POST",
    "/config/import",
    summary="Import a configuration (dry run unless apply; a full admin token)",
    tag=CONFIG,
    body=ConfigImport,
    response=ImportPlanOut,
    sensitive=True,
)
def import_config(body: ConfigImport) -> Any:
    """``apply: false`` (default) says what would change and writes nothing; ``apply: true``
    writes every change in one transaction, audited, or nothing at all. An invalid document
    is a 422 whose ``errors`` are keyed by the place in the document (``models[3].input_price``).
    The page asks for a fresh sign-in: here an admin token that is not read-only stands for it.
    """
    actor = _full_admin()
    document: Any = body.document
    if isinstance(document, str):
        document = parse_document(document)  # a DocumentError is a 422
    if body.apply:
        plan = config_apply.apply_import(actor, document)
    else:
        plan = config_import.plan_import(document)
    if not plan.ok:
        errors: dict[str, list[str]] = {}
        for issue in plan.errors:
            errors.setdefault(issue.path or "document", []).append(issue.message)
        raise ApiError(422, "The document has errors; nothing was written.", errors=errors)
    return _plan_out(plan)
