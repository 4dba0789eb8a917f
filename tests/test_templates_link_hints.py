"""Messages that send an admin to the allowed private hosts link to that setting wherever
they are shown: field errors and hints, notices (page-load and htmx), a key's last test,
a config import's plan, error pages and the other problem messages.

The scan catches a template that prints a message-like value (``…message``, ``…problem``,
``…failure``, ``…error``) without ``|link_hints``; the requests show the link in place.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests import factories
from tests.blueprints.test_config_page import URL, _document
from webapp.extensions import db
from webapp.services.settings.cache import settings_cache

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
MESSAGE = re.compile(r"\{\{\s*([\w.]*(?:message|problem|failure|error))\s*(\|[^}]*)?\}\}")
LINK = '<a href="/admin/keys#allowed-hosts">Keys page, under Allowed private hosts</a>'
HX = {"HX-Request": "true"}


def test_every_printed_message_goes_through_link_hints() -> None:
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for name, filters in MESSAGE.findall(path.read_text()):
            if "link_hints" not in (filters or ""):
                offenders.append(f"{path.relative_to(TEMPLATES)}: {name}{filters}")
    assert offenders == []


def test_an_import_plan_links_the_allowed_hosts_from_its_errors(admin_client) -> None:
    box = {"slug": "box", "display_name": "Box", "protocol": "openai_compatible"}
    box["base_url"] = "http://127.0.0.1:9/v1"
    response = admin_client.post(
        URL, headers=HX, data={"document": _document(providers=[box]), "apply": "0"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "providers[0].base_url" in body
    assert LINK in body


def test_a_flashed_notice_links_the_setting_too(admin_client) -> None:
    """Without JavaScript, a failed provider test is flashed onto the page it renders."""
    ollama = factories.provider("ollama")
    ollama.base_url, ollama.enabled = "http://10.0.0.5:11434/v1", True
    db.session.commit()
    settings_cache().clear()
    body = admin_client.post(f"/admin/providers/{ollama.id}/test").get_data(as_text=True)
    notices = body.split('id="notices"', 1)[1].split("</div>", 1)[0]
    assert "will not call 10.0.0.5" in notices and LINK in notices
