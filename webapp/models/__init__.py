"""All tables, imported here so Alembic and ``db.create_all`` see the whole model."""

from webapp.models.audit import AuditEvent
from webapp.models.billing import (
    Budget,
    BudgetPeriod,
    BudgetUnit,
    BudgetWindow,
    CreditAccount,
    CreditEntry,
    EntryKind,
    Reservation,
)
from webapp.models.catalog import CatalogModel, Category, ModelAlias, Protocol, Provider
from webapp.models.credential import Credential, LastTestStatus, Scope
from webapp.models.identity import SsoIdentity
from webapp.models.settings import Feature, LogLevel, ParameterSet, Profile, SettingsScope
from webapp.models.system import AllowedHost, AppCounter, AppSetting, ProviderHealth, SeedRecord
from webapp.models.token import AccessToken, TokenKind, TokenScope
from webapp.models.usage import CallStatus, KeySource, UsageRecord
from webapp.models.user import (
    Membership,
    Mode,
    Organization,
    OrgInvitation,
    OrgRole,
    Role,
    User,
)

__all__ = [
    "AccessToken",
    "AllowedHost",
    "AppCounter",
    "AppSetting",
    "AuditEvent",
    "Budget",
    "BudgetPeriod",
    "BudgetUnit",
    "BudgetWindow",
    "CallStatus",
    "CatalogModel",
    "Category",
    "Credential",
    "CreditAccount",
    "CreditEntry",
    "EntryKind",
    "Feature",
    "KeySource",
    "LastTestStatus",
    "LogLevel",
    "Membership",
    "Mode",
    "ModelAlias",
    "OrgInvitation",
    "OrgRole",
    "Organization",
    "ParameterSet",
    "Profile",
    "Protocol",
    "Provider",
    "ProviderHealth",
    "Reservation",
    "Role",
    "Scope",
    "SeedRecord",
    "SettingsScope",
    "SsoIdentity",
    "TokenKind",
    "TokenScope",
    "UsageRecord",
    "User",
]
