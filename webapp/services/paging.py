"""Pages of a list: Flask-SQLAlchemy's ``db.paginate``, with out-of-range pages clamped."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from webapp.extensions import db

MAX_PAGE = 1_000_000  # a page number past any table; larger ones are clamped, not queried


def paginate(query: sa.Select[Any], page: int | None, per_page: int) -> Pagination:
    """One page of ``query`` (ordered by the caller); a page past the end shows the last."""
    page = min(max(page or 1, 1), MAX_PAGE)
    result = db.paginate(query, page=page, per_page=per_page, error_out=False)
    if result.pages and page > result.pages:
        result = db.paginate(query, page=result.pages, per_page=per_page, error_out=False)
    return result
