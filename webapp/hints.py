"""Messages that send an admin to a setting ("… allow this host on the Keys page"), cut into
text and links: pages render them with the ``link_hints`` filter, htmx notices carry them as
``parts`` that static/js/app.js turns into text nodes and links (never HTML)."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user

KEYS_PAGE = "on the Keys page"
ALLOWED_HOSTS = "Keys page, under Allowed private hosts"

Part = tuple[str, str | None]  # (text, link URL or None)


def _allowed_hosts_url(text: str) -> str | None:
    """The allowed private hosts setting, when ``text`` sends an admin there (members cannot
    open the Keys page: for them the text stays plain)."""
    if KEYS_PAGE not in text or "allow" not in text.lower():
        return None  # most messages: the signed-in user is not even looked at
    if not (current_user.is_authenticated and getattr(current_user, "is_admin", False)):
        return None
    return url_for("credentials.index") + "#allowed-hosts"


def hint_parts(text: str) -> list[Part]:
    """``text`` as parts, its first mention of the Keys page a link to the setting when it is
    a hint about allowed private hosts; one plain part otherwise."""
    url = _allowed_hosts_url(text)
    if url is None:
        return [(text, None)]
    before, _, after = text.partition(KEYS_PAGE)
    parts: list[Part] = [(before + "on the ", None), (ALLOWED_HOSTS, url)]
    return parts + ([(after, None)] if after else [])
