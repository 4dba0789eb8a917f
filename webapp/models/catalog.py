"""The provider registry and the model catalog."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.base import Model, TimestampMixin, VersionedMixin, choice_check


class Protocol(StrEnum):
    """Wire protocols Switchboard speaks; a new provider needs only one of these."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    OPENAI_COMPATIBLE = "openai_compatible"


class Category(StrEnum):
    """Tiers used for profiles and filtering."""

    FAST = "fast"
    BALANCED = "balanced"
    POWERFUL = "powerful"
    SPECIALIZED = "specialized"
    EMBEDDING = "embedding"


# Prices are USD per million tokens; six decimals cover sub-cent rates such as 0.006.
Price = sa.Numeric(12, 6)


class Provider(TimestampMixin, VersionedMixin, Model):
    """An upstream API. ``enabled`` means offered to users and callable."""

    __tablename__ = "providers"
    __table_args__ = (
        choice_check("protocol", tuple(Protocol)),
        sa.CheckConstraint("credit_multiplier >= 0", name="credit_multiplier_non_negative"),
        sa.CheckConstraint(
            "protocol <> 'openai_compatible' OR base_url IS NOT NULL",
            name="compatible_needs_base_url",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    protocol: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    base_url: Mapped[str | None] = mapped_column(sa.String(500))
    api_key_env: Mapped[str | None] = mapped_column(sa.String(100))
    # The fallback key's approval is the pair (variable, origin): the environment variable
    # whose value may be sent, and the origin it was confirmed for (see Credential). Changing
    # either ``api_key_env`` or the address pauses the key until an admin confirms the pair.
    env_key_var: Mapped[str | None] = mapped_column(sa.String(100))
    env_key_origin: Mapped[str | None] = mapped_column(sa.String(300))
    credit_multiplier: Mapped[Decimal] = mapped_column(
        sa.Numeric(10, 4), nullable=False, default=Decimal("1")
    )
    enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # Extra HTTP headers some endpoints want (e.g. OpenRouter's attribution headers).
    extra_headers: Mapped[dict[str, str] | None] = mapped_column(sa.JSON)
    is_preset: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # The model (its id at this provider) a call naming only the provider ("openai",
    # "openai/") gets; None: such a call is refused as naming no model.
    default_model: Mapped[str | None] = mapped_column(sa.String(200))

    models: Mapped[list[CatalogModel]] = relationship(
        back_populates="provider",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="CatalogModel.model_id",
    )

    def __repr__(self) -> str:
        return f"<Provider {self.slug}>"


class CatalogModel(TimestampMixin, VersionedMixin, Model):
    """One model of a provider, with capabilities and prices (None = unpriced, never 0)."""

    __tablename__ = "models"
    __table_args__ = (
        sa.UniqueConstraint("provider_id", "model_id"),
        choice_check("category", tuple(Category)),
        sa.CheckConstraint(
            "NOT is_default_chat OR category <> 'embedding'", name="default_chat_not_embedding"
        ),
        sa.CheckConstraint(
            "NOT is_default_embedding OR category = 'embedding'",
            name="default_embedding_is_embedding",
        ),
        sa.CheckConstraint(
            "(input_price IS NULL OR input_price >= 0)"
            " AND (output_price IS NULL OR output_price >= 0)"
            " AND (cached_input_price IS NULL OR cached_input_price >= 0)"
            " AND (cache_write_price IS NULL OR cache_write_price >= 0)",
            name="prices_non_negative",
        ),
        # At most one default of each kind; the catalog service keeps it at exactly one.
        sa.Index(
            "uq_models_one_default_chat",
            "is_default_chat",
            unique=True,
            sqlite_where=sa.text("is_default_chat"),
            postgresql_where=sa.text("is_default_chat"),
        ),
        sa.Index(
            "uq_models_one_default_embedding",
            "is_default_embedding",
            unique=True,
            sqlite_where=sa.text("is_default_embedding"),
            postgresql_where=sa.text("is_default_embedding"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey("providers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    model_id: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    display_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    category: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=Category.BALANCED)
    context_window: Mapped[int | None] = mapped_column(sa.Integer)
    max_output_tokens: Mapped[int | None] = mapped_column(sa.Integer)
    supports_vision: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    supports_tools: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    supports_json: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    supports_streaming: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # Parameters the model's API rejects (e.g. sampling parameters on current Claude models);
    # the call service drops them and says so.
    unsupported_params: Mapped[list[str] | None] = mapped_column(sa.JSON)
    input_price: Mapped[Decimal | None] = mapped_column(Price)
    output_price: Mapped[Decimal | None] = mapped_column(Price)
    cached_input_price: Mapped[Decimal | None] = mapped_column(Price)
    # Writing to the prompt cache (Anthropic's cache_creation tokens), where priced apart.
    cache_write_price: Mapped[Decimal | None] = mapped_column(Price)
    # Managed calls to an unpriced model are refused unless an admin allowed them here; such
    # calls are charged nothing and stay flagged unpriced.
    allow_unpriced: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    price_source: Mapped[str | None] = mapped_column(sa.String(80))
    enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    deprecated: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    is_default_chat: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    is_default_embedding: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)

    provider: Mapped[Provider] = relationship(back_populates="models")

    @property
    def global_id(self) -> str:
        """``provider/model``: the name used in settings, the gateway and exports."""
        return f"{self.provider.slug}/{self.model_id}"

    @property
    def priced(self) -> bool:
        return self.input_price is not None and self.output_price is not None

    def __repr__(self) -> str:
        return f"<CatalogModel {self.provider_id}/{self.model_id}>"


class ModelAlias(TimestampMixin, Model):
    """An admin-defined model name for gateway callers (``default-chat`` → a catalog model):
    repoint it and every client follows, without touching them."""

    __tablename__ = "model_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    model_id: Mapped[int] = mapped_column(
        sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False, index=True
    )
    description: Mapped[str | None] = mapped_column(sa.String(200))

    model: Mapped[CatalogModel] = relationship()
