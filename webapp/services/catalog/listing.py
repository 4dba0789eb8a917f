"""Read the provider registry and the model catalog."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import CatalogModel, Category, Provider


@dataclass(frozen=True)
class ModelFilter:
    """What the models page may filter by; empty fields mean "any"."""

    q: str = ""
    provider: str = ""
    category: str = ""
    status: str = ""  # "", "enabled", "disabled", "deprecated"


def list_providers() -> list[tuple[Provider, int]]:
    """Every provider with its model count, enabled first, then by name."""
    counts = (
        sa.select(CatalogModel.provider_id, sa.func.count().label("n"))
        .group_by(CatalogModel.provider_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(Provider, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.provider_id == Provider.id)
        .order_by(Provider.enabled.desc(), Provider.display_name)
    )
    return [(provider, count) for provider, count in rows]


def enabled_providers() -> list[Provider]:
    """Providers offered to users, by name: the registry drives every per-provider list."""
    return list(
        db.session.scalars(
            sa.select(Provider).where(Provider.enabled.is_(True)).order_by(Provider.display_name)
        )
    )


def list_models(filters: ModelFilter) -> list[CatalogModel]:
    """Catalog rows matching ``filters``, grouped by provider."""
    query = (
        sa.select(CatalogModel)
        .join(Provider)
        .options(selectinload(CatalogModel.provider))
        .order_by(Provider.display_name, CatalogModel.category, CatalogModel.model_id)
    )
    if filters.q and (text := filters.q.strip().lower()):
        # autoescape: a typed "%" or "_" is searched for, not a wildcard
        query = query.where(
            sa.or_(
                sa.func.lower(CatalogModel.model_id).contains(text, autoescape=True),
                sa.func.lower(CatalogModel.display_name).contains(text, autoescape=True),
            )
        )
    if filters.provider:
        query = query.where(Provider.slug == filters.provider)
    if filters.category in tuple(Category):
        query = query.where(CatalogModel.category == filters.category)
    if filters.status == "enabled":
        query = query.where(CatalogModel.enabled.is_(True))
    elif filters.status == "disabled":
        query = query.where(CatalogModel.enabled.is_(False))
    elif filters.status == "deprecated":
        query = query.where(CatalogModel.deprecated.is_(True))
    return list(db.session.scalars(query))


def default_models() -> dict[str, CatalogModel | None]:
    """The default chat and embedding models."""
    result: dict[str, CatalogModel | None] = {}
    for kind, column in (
        ("chat", CatalogModel.is_default_chat),
        ("embedding", CatalogModel.is_default_embedding),
    ):
        result[kind] = db.session.scalar(
            sa.select(CatalogModel)
            .options(selectinload(CatalogModel.provider))
            .where(column.is_(True))
        )
    return result


def catalog_counts() -> dict[str, int]:
    """Numbers for the overview page."""
    return {
        "providers": db.session.scalar(sa.select(sa.func.count()).select_from(Provider)) or 0,
        "providers_enabled": db.session.scalar(
            sa.select(sa.func.count()).where(Provider.enabled.is_(True))
        )
        or 0,
        "models": db.session.scalar(sa.select(sa.func.count()).select_from(CatalogModel)) or 0,
        "models_unpriced": db.session.scalar(
            sa.select(sa.func.count()).where(CatalogModel.input_price.is_(None))
        )
        or 0,
    }
