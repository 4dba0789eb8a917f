"""What a provider and a catalog model may hold: the one definition the provider and model
forms, the catalog services, config import and export, and the seed all validate through.

Rules that need the database or the network (slug uniqueness, the base URL's SSRF guard,
the default-model rules) live in ``providers.py`` and ``editing.py``, after these.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from webapp.services.catalog.provider_rules import check_headers, key_env_problem
from webapp.services.json_input import parse_json
from webapp.services.schemas import Record, Slug, money, optional_text, required_text, whole
from webapp.services.settings.fields import NAMES

LONG_TEXT = 10_000
MAX_TOKENS = 100_000_000  # no model's context comes near; a typo (2000000000) is refused
MAX_PRICE = 999_999  # USD per million tokens
PRICES = ("input_price", "output_price", "cached_input_price", "cache_write_price")
ProtocolName = Literal["openai", "anthropic", "openai_compatible"]
CategoryName = Literal["fast", "balanced", "powerful", "specialized", "embedding"]


def _env_name(value: str | None, info: ValidationInfo) -> str | None:
    """Checked when it changes: a stored name the operator has since taken off the allow-list
    does not block saving the provider's other fields (the call path refuses to use it)."""
    unchanged = value == (info.context or {}).get("api_key_env", object())
    if value and not unchanged and (problem := key_env_problem(value)):
        raise ValueError(problem)
    return value or None


def _headers_in(value: Any) -> Any:
    """A form sends the headers as JSON text; a document as a mapping."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return parse_json(value)
        except ValueError as exc:
            raise ValueError(f"Extra headers: {str(exc).rstrip('.')}.") from None
    return value


def _headers(value: Any) -> dict[str, str] | None:
    try:
        return check_headers(value)
    except ValueError as exc:
        raise ValueError(f"Extra headers: {str(exc).rstrip('.')}.") from None


# The type checker sees plain types; pydantic (at run time) gets the checked ones.
if TYPE_CHECKING:
    Name = str
    DefaultModelId = str | None
    ModelName = str
    LongText = str | None
    BaseUrl = str | None
    Multiplier = Decimal | None
    TokenCount = int | None
    Price = Decimal | None
else:
    Name = required_text(120)
    DefaultModelId = optional_text(200)
    ModelName = required_text(200)
    LongText = optional_text(LONG_TEXT)
    BaseUrl = optional_text(500)
    Multiplier = money(4, 1000)
    TokenCount = whole(1, MAX_TOKENS)
    Price = money(6, MAX_PRICE)


def _default_model(value: str | None) -> str | None:
    if value and any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("A model id has no spaces or control characters.")
    return value or None


class ProviderRecord(Record):
    """A provider's editable fields (the slug is its identity, checked on create)."""

    display_name: Name
    description: LongText = None
    protocol: ProtocolName
    base_url: BaseUrl = None
    api_key_env: Annotated[str | None, AfterValidator(_env_name)] = None
    credit_multiplier: Annotated[
        Multiplier, AfterValidator(lambda v: Decimal("1") if v is None else v)
    ] = Decimal("1")
    enabled: bool = True
    extra_headers: Annotated[Any, BeforeValidator(_headers_in), AfterValidator(_headers)] = None
    # The model id (at this provider) for calls that name only the provider.
    default_model: Annotated[DefaultModelId, AfterValidator(_default_model)] = None


class NewProvider(ProviderRecord):
    slug: Slug


def _params_in(value: Any) -> Any:
    """A form sends "temperature, top_p"; a document a list."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if isinstance(value, list):
        return [v.strip() if isinstance(v, str) else v for v in value]
    return value


def _params(value: list[str] | None) -> list[str] | None:
    names = sorted({n for n in value or [] if n})
    if unknown := [n for n in names if n not in NAMES]:
        raise ValueError(f"Unknown settings: {', '.join(unknown)}.")
    return names or None


class ModelRecord(Record):
    """A catalog model's editable fields. Empty prices mean unpriced, which is not free."""

    display_name: ModelName
    category: CategoryName = "balanced"
    context_window: TokenCount = None
    max_output_tokens: TokenCount = None
    supports_vision: bool = False
    supports_tools: bool = False
    supports_json: bool = False
    supports_streaming: bool = True
    unsupported_params: Annotated[
        Annotated[list[str], Field(max_length=30)] | None,
        BeforeValidator(_params_in),
        AfterValidator(_params),
    ] = None
    input_price: Price = None
    output_price: Price = None
    cached_input_price: Price = None
    cache_write_price: Price = None
    allow_unpriced: bool = False
    enabled: bool = True
    deprecated: bool = False


def _model_id(value: str) -> str:
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("A model id has no spaces or control characters.")
    return value


ModelId = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_model_id)]


class NewModel(ModelRecord):
    """A model added by hand or imported: its provider and its id at that provider."""

    provider: Slug
    model_id: ModelId


MODEL_FIELDS = tuple(ModelRecord.model_fields)
PROVIDER_FIELDS = tuple(ProviderRecord.model_fields)
