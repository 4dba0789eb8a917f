"""Usage as the dashboards show it: totals and breakdowns, the records, a CSV export, and the
price list. Admins see everything, org admins their orgs, members their own calls."""

from __future__ import annotations

from typing import Any

from flask import Response, stream_with_context

from webapp.api.core import actor, decode_cursor, encode_cursor, invalid, route
from webapp.api.schemas import (
    Page,
    PriceListOut,
    RecordOut,
    RecordQuery,
    UsageQuery,
    UsageSummaryOut,
)
from webapp.services.errors import ValidationError
from webapp.services.usage import dashboard, export, pricing, records
from webapp.services.usage.filters import DIMENSIONS, Filters, make_filters, scope_for

TAG = "Usage and pricing"


def _filters(query: UsageQuery) -> Filters:
    values = {name: getattr(query, name) for name in DIMENSIONS}
    return make_filters(query.period, query.since, query.until, values)


@route(
    "GET",
    "/usage/summary",
    summary="Usage totals and breakdowns",
    tag=TAG,
    query=UsageQuery,
    response=UsageSummaryOut,
)
def summary(query: UsageQuery) -> Any:
    """The dashboard's numbers for the period: totals, and the top rows by model, provider,
    org, user, feature, token, mode and status (``rest`` sums the rows beyond the top)."""
    filters = _filters(query)
    board = dashboard.build(filters, scope_for(actor()))
    return {
        "since": filters.since,
        "until": filters.until,
        "totals": vars(board.totals),
        "breakdowns": [
            {
                "name": b.name,
                "rows": [
                    {
                        "key": row.key if isinstance(row.key, int | str) else None,
                        "label": row.label,
                        "totals": vars(row.totals),
                    }
                    for row in b.rows
                ],
                "rest": vars(b.rest) if b.rest is not None else None,
            }
            for b in board.breakdowns
        ],
    }


@route(
    "GET",
    "/usage/records",
    summary="Usage records, newest first",
    tag=TAG,
    query=RecordQuery,
    response=Page[RecordOut],
)
def list_records(query: RecordQuery) -> Any:
    filters = _filters(query)
    inner = None
    if (values := decode_cursor(query.cursor)) is not None:
        if not isinstance(values[0], str):
            raise invalid("cursor", "This cursor is not one the API handed out.")
        inner = values[0]
    try:
        page = records.list_records(filters, scope_for(actor()), cursor=inner, size=query.limit)
    except ValidationError:  # a forged cursor the service cannot read
        raise invalid("cursor", "This cursor is not one the API handed out.") from None
    return {
        "items": page.rows,
        "next_cursor": encode_cursor(page.next_cursor) if page.next_cursor else None,
    }


@route(
    "GET", "/usage/records/<int:record_id>", summary="One usage record", tag=TAG, response=RecordOut
)
def get_record(record_id: int) -> Any:
    return records.get_record(record_id, scope_for(actor()))


@route(
    "GET", "/usage/records.csv", summary="Usage records as CSV", tag=TAG, query=UsageQuery, csv=True
)
def export_csv(query: UsageQuery) -> Any:
    filters = _filters(query)
    name = f"usage-{filters.since.isoformat()}-{filters.until.isoformat()}.csv"
    response = Response(
        stream_with_context(export.csv_lines(filters, scope_for(actor()))), mimetype="text/csv"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@route(
    "GET",
    "/pricing",
    summary="Prices and credits of the models you may use",
    tag=TAG,
    response=PriceListOut,
)
def price_list() -> Any:
    return pricing.price_list(actor())
