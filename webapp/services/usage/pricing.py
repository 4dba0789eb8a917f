"""The price list every signed-in user may read: enabled providers and models, USD per
million tokens, the provider's credit multiplier and the credits that makes, and which
models each of the user's organizations allows."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CatalogModel, Mode, Provider, User


@dataclass(frozen=True)
class PriceRow:
    global_id: str
    name: str
    input_price: Decimal | None
    output_price: Decimal | None
    cached_price: Decimal | None
    allowed_by: list[str]  # names of the user's orgs that allow it ([] : none of them)

    def credits(self, price: Decimal | None, multiplier: Decimal) -> Decimal | None:
        return None if price is None else (price * multiplier).normalize()


@dataclass(frozen=True)
class ProviderPrices:
    slug: str
    name: str
    multiplier: Decimal
    models: list[PriceRow]


@dataclass(frozen=True)
class PriceList:
    providers: list[ProviderPrices]
    byok: bool
    org_names: list[str]


def price_list(user: User) -> PriceList:
    orgs = [m.organization for m in user.memberships]
    rows = db.session.execute(
        sa.select(Provider, CatalogModel)
        .join(CatalogModel, CatalogModel.provider_id == Provider.id)
        .where(Provider.enabled.is_(True), CatalogModel.enabled.is_(True))
        .order_by(Provider.display_name, CatalogModel.display_name)
    ).all()
    providers: dict[int, ProviderPrices] = {}
    for provider, model in rows:
        global_id = f"{provider.slug}/{model.model_id}"
        entry = providers.setdefault(
            provider.id,
            ProviderPrices(
                provider.slug, provider.display_name, Decimal(provider.credit_multiplier), []
            ),
        )
        entry.models.append(
            PriceRow(
                global_id,
                model.display_name,
                model.input_price,
                model.output_price,
                model.cached_input_price,
                [o.name for o in orgs if o.allowed_models is None or global_id in o.allowed_models],
            )
        )
    return PriceList(list(providers.values()), user.mode == Mode.BYOK, [o.name for o in orgs])
