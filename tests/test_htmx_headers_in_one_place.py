"""htmx is answered in one place: ``webapp/htmx.py``.

Views once wrote "partial + HX-Trigger notice / whole page at 422 / flash + 303" by hand in
about ten places, each a little differently (a failed plain submit that redirected instead of
showing the errors, a notice lost without JavaScript), and told htmx requests apart three
ways. Now the helpers do it: ``render``, ``respond``, ``redirect_to``. This scan fails when
code outside webapp/htmx.py names an ``HX-*`` header (to build or to read it) or reads
``request.htmx`` itself, or when a blueprint or shared view flashes a notice or adds
HX-Trigger events on its own instead of through ``respond``/``redirect_to``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

WEBAPP = Path(__file__).resolve().parent.parent / "webapp"
HELPERS = WEBAPP / "htmx.py"
HX_HEADER = re.compile(r"^hx-[a-z-]+$", re.IGNORECASE)
VIEWS = ("blueprints", "views")
# What views may not import: notices and events go through respond()/redirect_to().
BY_HAND = {"flask": {"flash"}, "webapp.htmx": {"add_notice", "trigger", "notice_instead"}}


def _sources() -> list[Path]:
    return [path for path in sorted(WEBAPP.rglob("*.py")) if path != HELPERS]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(WEBAPP.parent)}:{getattr(node, 'lineno', '?')}"


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes (prose may mention HX-Redirect)."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            found.add(id(first.value))
    return found


def test_only_webapp_htmx_names_hx_headers_or_reads_request_htmx() -> None:
    offenders = []
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        prose = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in prose
                and HX_HEADER.match(node.value.strip())
            ):
                offenders.append(f"{_where(path, node)} names the header {node.value!r}")
            elif isinstance(node, ast.Attribute) and node.attr == "htmx":
                offenders.append(f"{_where(path, node)} reads .htmx")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and any(isinstance(a, ast.Constant) and a.value == "htmx" for a in node.args)
            ):
                offenders.append(f"{_where(path, node)} looks up request.htmx")
    assert offenders == [], "use webapp.htmx (is_htmx, render, respond, …):\n" + "\n".join(
        offenders
    )


def test_views_leave_notices_and_events_to_respond_and_redirect_to() -> None:
    offenders = []
    for folder in VIEWS:
        for path in sorted((WEBAPP / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module in BY_HAND:
                    for alias in node.names:
                        if alias.name in BY_HAND[node.module]:
                            offenders.append(f"{_where(path, node)} imports {alias.name}")
    assert offenders == [], "answer with respond() or redirect_to(notice=…):\n" + "\n".join(
        offenders
    )
