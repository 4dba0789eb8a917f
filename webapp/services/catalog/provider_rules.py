"""Rules for provider fields typed by admins or imported: shared by the provider forms and
config import, so both refuse the same things."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app

ENV_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
HEADER_RE = re.compile(r"^[A-Za-z0-9-]{1,100}$")
# Headers that frame or route the request itself: set by the client, never by configuration
# (a second Content-Length or a Transfer-Encoding would let a request be read two ways).
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "proxy-connection",
        "proxy-authorization",
    }
)
# The app's own secrets must never be sent to a provider as its "key".
RESERVED_ENV = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL"}
# Header names that look like they carry a credential: keys belong in encrypted key storage.
SECRET_HEADER_WORDS = ("key", "token", "secret", "auth", "cookie", "password", "session")
KEY_VARS_SETTING = "SWITCHBOARD_PROVIDER_KEY_VARS"
ENV_HELP = (
    "Name a variable that holds a provider key, ending in _KEY or _TOKEN (e.g. "
    "ACME_API_KEY); Switchboard's own settings cannot be used."
)


def key_env_shape_ok(name: str) -> bool:
    """An environment variable that plausibly holds a provider key, and none of ours."""
    return (
        bool(ENV_RE.match(name))
        and name.endswith(("_KEY", "_TOKEN"))
        and not (name.startswith(("SWITCHBOARD_", "FLASK_", "WERKZEUG_")) or name in RESERVED_ENV)
    )


def allowed_key_vars() -> tuple[str, ...]:
    """The variables an operator allowed as fallback keys (see webapp/config.py)."""
    return tuple(current_app.config["PROVIDER_KEY_VARS"])


def key_env_problem(name: str) -> str | None:
    """Why ``name`` cannot be a provider's fallback key variable, or None when it can.

    The operator's allow-list bounds which secrets of the environment an admin can have
    Switchboard send to a host of their choosing (never AWS_SECRET_ACCESS_KEY, say).
    """
    if not key_env_shape_ok(name):
        return ENV_HELP
    allowed = allowed_key_vars()
    if name not in allowed:
        return (
            f"Not allowed: {name} is not listed in {KEY_VARS_SETTING}, the fallback key "
            f"variables the operator allowed (now: {', '.join(allowed) or 'none'})."
        )
    return None


def key_env_name_ok(name: str) -> bool:
    """Shared by the provider form and config import: both refuse the same names."""
    return key_env_problem(name) is None


def secret_looking_header(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_HEADER_WORDS)


def check_headers(value: Any) -> dict[str, str] | None:
    """Plain extra headers: simple names, text values, no line breaks, no credentials.

    Raises ValueError with the reason.
    """
    if value is None or value == {}:
        return None
    if not isinstance(value, dict) or len(value) > 20:
        raise ValueError("must be a JSON object of at most 20 header names to text values")
    for name, item in value.items():
        if (
            not isinstance(name, str)
            or not HEADER_RE.match(name)
            or not isinstance(item, str)
            or len(item) > 1000
        ):
            raise ValueError(f"header {name!r} needs a plain name and a text value")
        if "\r" in item or "\n" in item:
            raise ValueError(f"header {name!r} cannot contain line breaks")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"{name} is set by Switchboard for each request")
        if secret_looking_header(name):
            raise ValueError(
                f"{name} looks like it would hold a key: store keys as keys, "
                "where they are encrypted and masked"
            )
    return dict(value)
