"""Lists are paged one way: ``services.paging.paginate`` (Flask-SQLAlchemy's ``db.paginate``,
out-of-range pages clamped) for numbered pages, cursors for the API."""

from __future__ import annotations

import pathlib
import re

import webapp

HAND_PAGING = re.compile(r"\.offset\(|math\.ceil\([^)]*PER_PAGE")


def test_no_list_pages_by_hand():
    """Issue 9 item 10: a page counted with ``math.ceil`` and fetched with ``OFFSET`` by hand
    drifts from ``paginate`` (clamping, the count query); every numbered list uses it."""
    root = pathlib.Path(webapp.__file__).parent
    found = [
        f"{path.relative_to(root)}:{number}"
        for path in root.rglob("*.py")
        if path.name != "paging.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if HAND_PAGING.search(line)
    ]
    assert found == []
