"""What the configuration service tests share: a stocked database, row counts, and plan and
apply with a resolver that never uses DNS."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    CatalogModel,
    Feature,
    Organization,
    ParameterSet,
    Profile,
    Provider,
)
from webapp.services.config import apply as config_apply
from webapp.services.config import importing as config_import
from webapp.services.config.document import ImportPlan
from webapp.services.settings import layers as settings

SECRETS = ("sk-cfg-GLOBAL-a1b2c3d4e5", "sk-cfg-ORG-f6a7b8c9d0", "sk-cfg-USER-0a9b8c7d6e")


def public(host: str, port: int) -> list[str]:
    """Resolver stub: every host is a public address (tests never use DNS)."""
    return ["93.184.216.34"]


def stock() -> Organization:
    """An org with settings, a profile and a feature; global settings and a global feature."""
    org = factories.make_org("acme", "Acme Corp")
    org.description = "Our company"
    org.allowed_models = ["anthropic/claude-haiku-4-5", "openai/gpt-5.4-mini", "openai/gpt-5.5"]
    db.session.add(ParameterSet(scope="org", org_id=org.id, temperature=0.5, logging_level="full"))
    profile = Profile(org_id=org.id, name="fast", description="Acme's fast tier")
    profile.settings = ParameterSet(
        scope="profile", model=factories.model("anthropic/claude-haiku-4-5"), max_tokens=800
    )
    feature = Feature(org_id=org.id, slug="summarize", name="Summarize", profile_name="fast")
    feature.settings = ParameterSet(
        scope="feature", stop=["END"], fallback_models=["openai/gpt-5.5"]
    )
    chat = Feature(slug="chat", name="Chat", profile_name="balanced", enabled=False)
    chat.settings = ParameterSet(scope="feature", extra_options={"reasoning": {"effort": "low"}})
    db.session.add_all([profile, feature, chat])
    pset = settings.parameter_set_for("global")
    pset.seed, pset.request_timeout_ms = 42, 30000
    db.session.commit()
    return org


def counts() -> dict[str, int]:
    tables = (Provider, CatalogModel, Organization, Profile, Feature, ParameterSet, AuditEvent)
    return {
        t.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(t)) or 0
        for t in tables
    }


def plan(document: dict[str, Any]) -> ImportPlan:
    return config_import.plan_import(document, resolver=public)


def apply(document: dict[str, Any]) -> ImportPlan:
    return config_apply.apply_import(None, document, resolver=public)


def errors(result: ImportPlan) -> dict[str, str]:
    return {issue.path: issue.message for issue in result.errors}
