"""Exports of exactly what the filters select: CSV (header row, ISO 8601 UTC times) and JSON
for scripts, both produced line by line so memory stays constant whatever the size."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from webapp.services.usage.filters import Filters, Scope
from webapp.services.usage.records import LIST_COLUMNS, iter_records


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value


def _csv_cell(value: Any) -> Any:
    value = _value(value)
    # Spreadsheet formula injection: text starting like a formula is quoted as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def csv_lines(filters: Filters, scope: Scope) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(LIST_COLUMNS)
    yield flush()
    for count, row in enumerate(iter_records(filters, scope), 1):
        writer.writerow([_csv_cell(v) for v in row])
        if count % 200 == 0:
            yield flush()
    yield flush()


def json_lines(filters: Filters, scope: Scope) -> Iterator[str]:
    """A JSON document ``{"filters": …, "records": [...]}``, streamed record by record."""
    header = {
        "since": filters.since.isoformat(),
        "until": filters.until.isoformat(),
        "filters": filters.values,
    }
    yield json.dumps(header)[:-1] + ', "records": ['
    first = True
    for row in iter_records(filters, scope):
        item = {name: _value(value) for name, value in zip(LIST_COLUMNS, row, strict=True)}
        yield ("" if first else ",") + "\n" + json.dumps(item)
        first = False
    yield "\n]}\n"
