"""What the API returns, and the bodies of routes whose services take plain arguments
rather than a record schema. Configuration records (providers, models, orgs) are validated by
their services' own schemas (``services/*/schemas.py``), which the OpenAPI document shows as
they are; the bodies here only check the shape of a request (types, required fields)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, Optional, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from webapp.api.core import Body, Query
from webapp.services.accounts import schemas as account_schemas
from webapp.services.catalog import schemas as catalog_schemas
from webapp.services.settings import schemas as settings_schemas
from webapp.services.settings.fields import FIELDS as SETTING_FIELDS

T = TypeVar("T")
Id = int
MAX_LIMIT = 200


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` (422) lists messages by field."""

    type: str
    title: str
    status: int
    detail: str
    errors: dict[str, list[str]] | None = None


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next (null: the end)."""

    items: list[T]
    next_cursor: str | None


class Listing(Query):
    cursor: str | None = Field(None, max_length=500, description="`next_cursor` of a page.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


class Versioned(Body):
    """An update names the version it was based on: a stale one is a 409."""

    version: int = Field(ge=1, le=2**31 - 1)


# --- providers and models --------------------------------------------------------------


class ProviderOut(Out):
    id: int
    slug: str
    display_name: str
    description: str | None
    protocol: str
    base_url: str | None
    api_key_env: str | None
    credit_multiplier: Decimal
    enabled: bool
    extra_headers: dict[str, str] | None
    default_model: str | None = None
    is_preset: bool
    version: int


def partial(schema: type[BaseModel], name: str) -> type[BaseModel]:
    """``schema`` with every field optional plus ``version``: the body of an update, where
    fields left out keep their stored values. Only the document uses it: the service
    validates the merged record with ``schema`` itself."""
    fields: dict[str, Any] = {
        field_name: (Optional[info.annotation], Field(None, description=info.description))  # noqa: UP045
        for field_name, info in schema.model_fields.items()
    }
    fields["version"] = (int, Field(ge=1, le=2**31 - 1, description="The version you read."))
    return create_model(name, __base__=Body, __doc__=schema.__doc__, **fields)


ProviderUpdate = partial(catalog_schemas.ProviderRecord, "ProviderUpdate")


class ModelOut(Out):
    id: int
    provider_id: int
    global_id: str
    model_id: str
    display_name: str
    category: str
    context_window: int | None
    max_output_tokens: int | None
    supports_vision: bool
    supports_tools: bool
    supports_json: bool
    supports_streaming: bool
    unsupported_params: list[str] | None
    input_price: Decimal | None
    output_price: Decimal | None
    cached_input_price: Decimal | None
    cache_write_price: Decimal | None
    allow_unpriced: bool
    price_source: str | None
    enabled: bool
    deprecated: bool
    is_default_chat: bool
    is_default_embedding: bool
    version: int


ModelUpdate = partial(catalog_schemas.ModelRecord, "ModelUpdate")


class ModelQuery(Listing):
    provider: str | None = Field(None, max_length=64)
    enabled: bool | None = None


class ModelsEnabled(Body):
    """Several models enabled or disabled in one transaction: all of them or none."""

    model_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=500)
    enabled: bool


class DefaultModel(Body):
    kind: Literal["chat", "embedding"]


class LiveModelsAdd(Body):
    model_ids: list[str] = Field(min_length=1, max_length=500)


class LiveModelOut(Out):
    id: str
    in_catalog: bool


class LiveModelsOut(Out):
    """The provider's live list; ``ok`` false (and ``message``) when it did not answer."""

    ok: bool
    message: str | None
    models: list[LiveModelOut]


class OriginConfirm(Body):
    """``origin``: the address you reviewed (e.g. ``https://llm.example.com``); when given and
    the address has changed again since, the answer is a 409. Null: the current address."""

    origin: str | None = Field(None, max_length=500)


class EnvKeyConfirm(OriginConfirm):
    """``variable``: the fallback-key variable you reviewed (e.g. ``OPENAI_API_KEY``); when
    given and the provider names another one since, the answer is a 409. Null: the current."""

    variable: str | None = Field(None, max_length=100)


class KeysResumedOut(BaseModel):
    resumed: int = Field(description="How many keys (global keys and the fallback key) resumed.")
    origin: str | None = Field(description="Where they are now sent.")


class ConnectionTestOut(Out):
    ok: bool
    latency_ms: int
    request_id: str
    models: int
    key_source: str | None
    error_type: str | None
    message: str | None


# --- credentials -----------------------------------------------------------------------

OwnerKind = Literal["global", "org", "user"]


class CredentialOut(Out):
    """A stored key: the secret is never returned, only its masked form."""

    id: int
    scope: str
    org_id: int | None
    user_id: int | None
    provider_id: int
    label: str
    masked: str
    base_url: str | None
    expires_at: datetime | None
    last_used_at: datetime | None
    last_test_status: str
    last_test_at: datetime | None
    last_test_message: str | None
    version: int


class CredentialQuery(Listing):
    owner: OwnerKind = "user"
    org_id: int | None = Field(None, ge=1, le=2**31 - 1)


class CredentialCreate(Body):
    owner: OwnerKind = Field(
        "user", description="global (admins), org (its admins) or user (your own key)."
    )
    org_id: int | None = Field(None, ge=1, le=2**31 - 1)
    provider_id: int = Field(ge=1, le=2**31 - 1)
    label: str = Field("default", max_length=100)
    secret: str = Field(max_length=4096, json_schema_extra={"writeOnly": True})
    base_url: str | None = Field(None, max_length=500)
    expires_on: date | None = None


class CredentialUpdate(Versioned):
    """An empty or absent ``secret`` keeps the stored one."""

    label: str | None = Field(None, max_length=100)
    secret: str | None = Field(None, max_length=4096, json_schema_extra={"writeOnly": True})
    base_url: str | None = Field(None, max_length=500)
    expires_on: date | None = None
    confirm_origin: bool = False


# --- access tokens ---------------------------------------------------------------------


class TokenOut(Out):
    id: int
    kind: str
    scope: str
    name: str
    prefix: str
    user_id: int | None
    org_id: int | None
    allowed_models: list[str] | None
    requests_per_minute: int | None
    tokens_per_minute: int | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="The secret: shown this once, never again.")


class TokenQuery(Listing):
    state: Literal["active", "expired", "revoked", "all"] = "all"


class TokenCreate(Body):
    kind: Literal["personal", "service"] = "personal"
    name: str = Field(max_length=100)
    scope: Literal["gateway", "read_only", "full"] = "gateway"
    org_id: int | None = Field(None, ge=1, le=2**31 - 1)
    allowed_models: list[str] | None = Field(None, max_length=50)
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    expires_in_days: int | None = None
    expires_at: datetime | None = None


# --- organizations ---------------------------------------------------------------------


class OrgOut(Out):
    id: int
    slug: str
    name: str
    description: str | None
    allowed_models: list[str] | None
    default_profile: str | None
    members_pay: bool
    archived: bool
    version: int


class OrgCreate(Body):
    slug: str = Field(max_length=64)
    name: str = Field(max_length=120)
    description: str | None = Field(None, max_length=10_000)


OrgUpdate = partial(account_schemas.OrgRecord, "OrgUpdate")


class MemberOut(Out):
    id: int
    user_id: int
    org_id: int
    org_role: str
    email: str
    created_at: datetime


class MemberCreate(Body):
    email: str = Field(max_length=254)
    org_role: Literal["member", "org_admin"] = "member"


class MemberUpdate(Body):
    org_role: Literal["member", "org_admin"]


class InvitationOut(Out):
    """An invitation to an org by email; it carries no secret: the invitee accepts it after
    signing in with that email."""

    id: int
    org_id: int
    org_name: str
    email: str
    org_role: str
    invited_by_id: int | None
    created_at: datetime
    expires_at: datetime
    expired: bool


class InvitationCreate(Body):
    email: str = Field(max_length=254)
    org_role: Literal["member", "org_admin"] = "member"


# --- users -----------------------------------------------------------------------------


class UserOut(Out):
    id: int
    email: str
    display_name: str | None
    role: str
    mode: str
    active: bool
    must_change_password: bool
    created_at: datetime
    last_login_at: datetime | None
    version: int


class UserQuery(Listing):
    q: str = Field("", max_length=100)
    role: Literal["", "admin", "member"] = ""
    status: Literal["", "active", "deactivated"] = ""


class UserUpdate(Versioned):
    role: Literal["admin", "member"] | None = None
    mode: Literal["managed", "byok"] | None = None
    active: bool | None = None


class ModeUpdate(Body):
    mode: Literal["managed", "byok"]


class PreferenceOut(BaseModel):
    model: str | None = Field(description="Your preferred model (null: none).")
    allowed_models: list[str] = Field(description="The models you may prefer.")


class PreferenceUpdate(Body):
    model: str | None = Field(max_length=300, description="A global model id; null clears it.")


class SsoIdentityOut(Out):
    """An identity at an OpenID provider that signs in as the user (no secret in it)."""

    id: int
    user_id: int
    provider: str
    issuer: str
    subject: str
    email: str | None
    created_at: datetime


class SsoIdentityLink(Body):
    provider: str = Field(max_length=64, description="The configured provider's name.")
    subject: str = Field(max_length=255, description="The provider's id for the person.")


class CreditEntryIn(Body):
    amount: int | float | str = Field(description='Credits, e.g. "10" or "-2.5".')
    kind: Literal["grant", "adjustment", "refund", "expiry"] = "grant"
    note: str | None = Field(None, max_length=500)


class CreditEntryOut(Out):
    id: int
    kind: str
    amount: Decimal
    balance_after: Decimal
    note: str | None
    created_at: datetime


# --- usage, pricing, effective settings -------------------------------------------------


class UsageQuery(Query):
    period: Literal["today", "7d", "30d", "month", "custom"] = "30d"
    since: date | None = None
    until: date | None = None
    model: int | None = Field(None, ge=0, le=2**31 - 1)
    provider: int | None = Field(None, ge=0, le=2**31 - 1)
    org: int | None = Field(None, ge=0, le=2**31 - 1)
    user: int | None = Field(None, ge=0, le=2**31 - 1)
    feature: int | None = Field(None, ge=0, le=2**31 - 1)
    token: int | None = Field(None, ge=0, le=2**31 - 1)
    mode: Literal["managed", "byok"] | None = None
    status: Literal["ok", "error", "cancelled"] | None = None


class RecordQuery(UsageQuery):
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


class TotalsOut(Out):
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    priced: int
    unpriced: int
    estimated: int
    cost_usd: Decimal
    credits: Decimal
    latency_p50: float | None
    latency_p95: float | None
    ttft_p50: float | None
    ttft_p95: float | None


class BreakdownRowOut(BaseModel):
    key: int | str | None
    label: str
    totals: TotalsOut


class BreakdownOut(BaseModel):
    name: str
    rows: list[BreakdownRowOut]
    rest: TotalsOut | None


class UsageSummaryOut(BaseModel):
    since: date
    until: date
    totals: TotalsOut
    breakdowns: list[BreakdownOut]


class RecordOut(Out):
    id: int
    created_at: datetime
    request_id: str
    caller: str
    user_id: int | None
    org_id: int | None
    feature_id: int | None
    access_token_id: int | None
    provider_id: int | None
    model_id: int | None
    provider_slug: str | None
    model_name: str | None
    operation: str
    mode: str
    key_source: str | None
    status: str
    error_type: str | None
    stream: bool
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    cache_write_tokens: int | None
    estimated: bool = Field(description="Token counts estimated (the upstream reported none).")
    usage_adjusted: bool = Field(
        description="Reported counts were impossible (negative, not numbers, beyond the "
        "model's limits) and were repaired before pricing."
    )
    over_hold: bool = Field(
        description="The call cost more than it held: cost_usd and credits are the full cost, "
        "the balance and hard budgets were charged only what was held."
    )
    unpriced: bool
    cost_usd: Decimal | None
    credits: Decimal | None
    latency_ms: int | None
    ttft_ms: int | None


class PriceRowOut(Out):
    global_id: str
    name: str
    input_price: Decimal | None
    output_price: Decimal | None
    cached_price: Decimal | None
    allowed_by: list[str]


class ProviderPricesOut(Out):
    slug: str
    name: str
    multiplier: Decimal
    models: list[PriceRowOut]


class PriceListOut(Out):
    providers: list[ProviderPricesOut]
    byok: bool
    org_names: list[str]


class EffectiveQuery(Query):
    user_id: int | None = Field(None, ge=1, le=2**31 - 1)
    org_id: int | None = Field(None, ge=1, le=2**31 - 1)
    feature: str | None = Field(None, max_length=64)


class SourceOut(Out):
    layer: str
    record_type: str | None
    record_id: int | None
    label: str
    org_id: int | None
    user_id: int | None


class KeySourceOut(Out):
    model: str
    source: str | None
    label: str | None
    credential_id: int | None
    problem: str | None


class EffectiveOut(BaseModel):
    problem: str | None
    mode: str | None
    model: str | None
    fallbacks: list[str]
    values: dict[str, Any]
    sources: dict[str, SourceOut]
    locked: list[str] = Field(
        description="Settings the feature locks: users and per-call overrides cannot change them."
    )
    system_prompt: str | None = Field(
        description="The feature's system prompt, put before every call's messages."
    )
    keys: list[KeySourceOut]


class UserCreate(Body):
    """Give a ``password``, or ``generate_password: true`` for one generated, returned once
    and to be changed at the user's first sign-in (as the Users page does)."""

    email: str = Field(max_length=254)
    password: str | None = Field(None, max_length=1000, json_schema_extra={"writeOnly": True})
    generate_password: bool = False
    role: Literal["admin", "member"] = "member"
    display_name: str | None = Field(None, max_length=120)


class CreatedUserOut(UserOut):
    password: str | None = Field(
        description="The generated password (null when you chose one): shown this once."
    )


class PasswordResetOut(BaseModel):
    """A generated password for the user to sign in with once and then replace."""

    user_id: int
    email: str
    password: str = Field(description="Shown this once, never again.")
    must_change_password: bool


# --- settings layers, features, profiles, aliases, budgets -------------------------------


def _setting_type(kind: str, choices: tuple[str, ...]) -> Any:
    types: dict[str, Any] = {
        "model": str,
        "float": float,
        "int": int,
        "bool": bool,
        "strings": list[str],
        "models": list[str],
        "json": dict[str, Any],
    }
    if kind == "choice":
        return Literal[choices]
    return types[kind]


def _settings_body() -> type[BaseModel]:
    """One optional property per setting (null: inherit from the layer below) and the
    ``version`` read; ranges and references are checked by the settings service."""
    fields: dict[str, Any] = {
        spec.name: (
            Optional[_setting_type(spec.kind, spec.choices)],  # noqa: UP045
            Field(None, description=f"{spec.label}. {spec.help}".strip()),
        )
        for spec in SETTING_FIELDS
    }
    fields["version"] = (int, Field(ge=1, le=2**31 - 1, description="The version you read."))
    return create_model("SettingsUpdate", __base__=Body, **fields)


SettingsUpdate = _settings_body()


class SettingsOut(BaseModel):
    """One layer's values: null means the layer inherits that setting."""

    scope: str
    owner_id: int | None
    version: int
    values: dict[str, Any]


class FeatureOut(Out):
    id: int
    org_id: int | None
    slug: str
    name: str
    description: str | None
    profile_name: str | None
    enabled: bool
    locked_fields: list[str] | None
    system_prompt: str | None
    version: int


class FeatureCreate(settings_schemas.NewFeature):
    """A new feature; ``org_id`` null makes a global one (admins only)."""

    org_id: int | None = Field(None, ge=1, le=2**31 - 1)


FeatureUpdate = partial(settings_schemas.FeatureRecord, "FeatureUpdate")


class FeatureQuery(Listing):
    org_id: int | None = Field(None, ge=1, le=2**31 - 1)


class ProfileOut(Out):
    id: int
    org_id: int | None
    name: str
    description: str | None


class ProfileQuery(Query):
    org_id: int | None = Field(None, ge=1, le=2**31 - 1)


class ProfileCreate(Body):
    org_id: int | None = Field(None, ge=1, le=2**31 - 1)
    name: str = Field(max_length=64)
    description: str | None = Field(None, max_length=10_000)


class AliasOut(Out):
    id: int
    name: str
    model: str
    description: str | None


class AliasCreate(Body):
    name: str = Field(max_length=64)
    model: str = Field(max_length=300, description="A global model id, e.g. openai/gpt-5.")
    description: str | None = Field(None, max_length=200)


class BudgetOut(Out):
    id: int
    user_id: int | None
    org_id: int | None
    access_token_id: int | None
    period: str
    unit: str
    amount: Decimal
    hard: bool
    thresholds: list[int] | None
    version: int


class BudgetStatusOut(BudgetOut):
    """A budget with this period's spend, as the billing pages show it."""

    spent: Decimal
    reserved: Decimal
    resets_at: datetime | None


class BudgetQuery(Query):
    owner: Literal["user", "org", "token"]
    owner_id: int = Field(ge=1, le=2**31 - 1)


class BudgetCreate(Body):
    owner: Literal["user", "org", "token"]
    owner_id: int = Field(ge=1, le=2**31 - 1)
    period: Literal["daily", "monthly", "total"] = "monthly"
    unit: Literal["usd", "credits"] = "usd"
    amount: int | float | str
    hard: bool = True
    thresholds: list[int] | None = Field(None, max_length=10)


class BudgetUpdate(Versioned):
    period: Literal["daily", "monthly", "total"] | None = None
    unit: Literal["usd", "credits"] | None = None
    amount: int | float | str | None = None
    hard: bool | None = None
    thresholds: list[int] | None = Field(None, max_length=10)


class AuditQuery(Listing):
    actor: str = Field("", max_length=254)
    target_type: str = Field("", max_length=40)
    target: str = Field("", max_length=300)
    action: str = Field("", max_length=32)
    since: date | None = None
    until: date | None = None


class AuditChangeOut(BaseModel):
    """One changed field, as the audit page shows it (secrets only as markers)."""

    field: str
    before: str
    after: str


class AuditEventOut(BaseModel):
    id: int
    created_at: datetime
    actor_id: int | None
    actor_label: str | None
    action: str
    target_type: str
    target_id: str | None
    target_label: str | None
    org_id: int | None
    changes: list[AuditChangeOut]


# --- site settings: retention, billing, allowed hosts, configuration documents -----------


class RetentionOut(BaseModel):
    """How long usage bodies and records are kept, in days (null: as long as the record /
    forever)."""

    body_days: int | None
    record_days: int | None


class RetentionUpdate(Body):
    """Fields left out keep their values; null keeps bodies or records forever."""

    body_days: int | None = None
    record_days: int | None = None


class PruneOut(BaseModel):
    bodies_cleared: int
    records_deleted: int


class BillingOut(BaseModel):
    credits_required: bool = Field(description="Managed calls need an account with credits.")
    timezone: str = Field(description="The time zone budget periods follow.")


class BillingUpdate(Body):
    """Fields left out keep their values."""

    credits_required: bool | None = None
    timezone: str | None = Field(None, max_length=64)


class AllowedHostOut(Out):
    id: int
    host: str
    port: int
    note: str | None


class AllowedHostCreate(Body):
    host: str = Field(max_length=300, description="host:port, e.g. localhost:11434.")
    note: str | None = Field(None, max_length=300)


class ConfigImport(Body):
    """A configuration document (as ``GET /config/export`` returns it, or its YAML/JSON
    text). ``apply`` false (the default) is a dry run that writes nothing."""

    document: dict[str, Any] | str
    apply: bool = False


class ImportIssueOut(BaseModel):
    path: str
    message: str


class ImportChangeOut(BaseModel):
    kind: str
    key: str
    action: str
    path: str
    fields: list[AuditChangeOut]


class ImportPlanOut(BaseModel):
    """What the import would do (``applied`` false) or did; records the document leaves out
    are left alone, nothing is deleted."""

    applied: bool
    summary: str
    counts: dict[str, Any]
    changes: list[ImportChangeOut]
    notes: list[ImportIssueOut]
