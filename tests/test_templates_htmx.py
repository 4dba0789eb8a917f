"""htmx triggers in templates listen only to their own elements.

`from:select` in htmx means *every* select on the page: a filter form written that way
re-ran its query (and pushed a new URL) when the phone menu's checkbox or any other
control on the page changed. Forms listen to the `change` events that bubble to them;
`from:` is kept for ids, `body` events and `find`/`closest` lookups.
"""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SCOPED = re.compile(r"^(body|document|window|#[\w-]+|find\b|closest\b|next\b|previous\b)")


def test_no_trigger_listens_to_every_element_of_a_kind() -> None:
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        for trigger in re.findall(r'hx-trigger="([^"]*)"', path.read_text()):
            for source in re.findall(r"from:\s*(\S+(?: \S+)?)", trigger):
                if not SCOPED.match(source):
                    offenders.append(f"{path.relative_to(TEMPLATES)}: from:{source}")
    assert offenders == []
