"""What a new access token may ask for: its name, scope, allowed-model patterns (checked
against the catalog), per-minute limits and expiry; how a pattern matches a model; and, for a
token created with another token, that it reaches no further than that one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from webapp.models import TokenScope
from webapp.models.base import utcnow
from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.errors import ValidationError

NAME_MAX = 100
MAX_PATTERNS = 50
MAX_EXPIRY_DAYS = 3650
MAX_REQUESTS_PER_MINUTE = 1_000_000
MAX_TOKENS_PER_MINUTE = 2_000_000_000  # the column is a 32-bit integer
# How far each scope reaches; anything beyond the gateway is management.
SCOPE_REACH: dict[str, int] = {TokenScope.GATEWAY: 0, TokenScope.READ_ONLY: 1, TokenScope.FULL: 2}
MANAGEMENT_SCOPES = frozenset({TokenScope.READ_ONLY, TokenScope.FULL})
# "provider/model", or with "*" wildcards in the model part: "openai/*", "openai/gpt-5*".
PATTERN_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}/[A-Za-z0-9._:@*/-]{1,200}$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class TokenInput:
    """A token as typed in a form or on the command line (everything but ``name`` optional)."""

    name: str
    scope: str = TokenScope.GATEWAY
    allowed_models: str | list[str] | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    expires_at: datetime | None = None
    expires_in_days: int | None = None


@dataclass(frozen=True)
class Reach:
    """What the token creating another token may hand on: its scope, its lifetime and its
    models (None: unbounded)."""

    scope: str
    expires_at: datetime | None = None
    allowed_models: tuple[str, ...] | None = None


def matches(pattern: str, global_id: str) -> bool:
    """Does a pattern ("openai/*", "openai/gpt-5.4-mini") cover ``global_id``?"""
    return fnmatchcase(global_id, pattern) if "*" in pattern else pattern == global_id


def model_allowed(patterns: list[str] | None, global_id: str) -> bool:
    """True when a token with these patterns may call ``global_id`` (None: no restriction)."""
    return patterns is None or any(matches(p, global_id) for p in patterns)


def split_patterns(raw: str | list[str] | None) -> list[str]:
    """Patterns separated by commas, spaces or new lines; duplicates dropped, order kept."""
    if raw is None:
        return []
    parts = raw if isinstance(raw, list) else re.split(r"[\s,]+", raw)
    return list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def clean_patterns(raw: str | list[str] | None) -> list[str] | None:
    """Each pattern well-formed and covering at least one catalog model; None when empty."""
    patterns = split_patterns(raw)
    if not patterns:
        return None
    if len(patterns) > MAX_PATTERNS:
        raise ValidationError({"allowed_models": f"At most {MAX_PATTERNS} models or patterns."})
    catalog = [m.global_id for m in catalog_snapshot.usable_models()] + [
        m.global_id for m in catalog_snapshot.usable_models(embedding=True)
    ]
    for pattern in patterns:
        if not PATTERN_RE.match(pattern):
            raise ValidationError(
                {
                    "allowed_models": f"{pattern[:80]!r} is not a model id or pattern: write "
                    "provider/model or provider/* (e.g. openai/*)."
                }
            )
        if not any(matches(pattern, global_id) for global_id in catalog):
            raise ValidationError(
                {"allowed_models": f"{pattern!r} matches no enabled model in the catalog."}
            )
    return sorted(patterns)


def clean_name(raw: str | None) -> str:
    name = (raw or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. the application using it."})
    if len(name) > NAME_MAX or CONTROL_RE.search(name):
        raise ValidationError({"name": f"At most {NAME_MAX} characters, no control characters."})
    return name


def clean_scope(raw: str | None) -> str:
    if raw not in tuple(TokenScope):
        raise ValidationError({"scope": "Choose gateway, read-only or full."})
    return str(raw)


def clean_limit(value: int | None, name: str, ceiling: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ceiling:
        raise ValidationError({name: f"A whole number from 1 to {ceiling:,}, or empty."})
    return value


def clean_expiry(at: datetime | None, in_days: int | None) -> datetime | None:
    """A moment in the future (or none); ``in_days`` counts whole days from now."""
    now = utcnow()
    if in_days is not None:
        if isinstance(in_days, bool) or not 1 <= in_days <= MAX_EXPIRY_DAYS:
            raise ValidationError(
                {"expires_in_days": f"From 1 to {MAX_EXPIRY_DAYS} days, or empty for no expiry."}
            )
        return now + timedelta(days=in_days)
    if at is None:
        return None
    if at.tzinfo is None or at <= now or at > now + timedelta(days=MAX_EXPIRY_DAYS):
        raise ValidationError(
            {"expires_at": f"Choose a moment in the next {MAX_EXPIRY_DAYS} days, or none."}
        )
    return at


def clean(data: TokenInput) -> dict[str, object]:
    """Every field checked; all messages at once, by field."""
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    checks = {
        "name": lambda: clean_name(data.name),
        "scope": lambda: clean_scope(data.scope),
        "allowed_models": lambda: clean_patterns(data.allowed_models),
        "requests_per_minute": lambda: clean_limit(
            data.requests_per_minute, "requests_per_minute", MAX_REQUESTS_PER_MINUTE
        ),
        "tokens_per_minute": lambda: clean_limit(
            data.tokens_per_minute, "tokens_per_minute", MAX_TOKENS_PER_MINUTE
        ),
        "expires_at": lambda: clean_expiry(data.expires_at, data.expires_in_days),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return values


def covered(pattern: str, patterns: tuple[str, ...]) -> bool:
    """Does every model ``pattern`` matches match one of ``patterns`` too? A pattern's ``*``
    matches the other's ``*`` literally, which is exactly containment (``*`` is the only
    wildcard ``PATTERN_RE`` lets in)."""
    return any(pattern == p or ("*" in p and fnmatchcase(pattern, p)) for p in patterns)


def check_within(values: dict[str, object], parent: Reach) -> None:
    """A token created with a token reaches no further: no wider scope, no longer life, no
    model the creating token may not call. All messages at once, by field."""
    errors: dict[str, str] = {}
    scope = str(values["scope"])
    if SCOPE_REACH.get(scope, 99) > SCOPE_REACH.get(parent.scope, -1):
        errors["scope"] = (
            f"The token you are using has the {parent.scope} scope: it can create tokens of "
            "that scope or a narrower one."
        )
    expires = values.get("expires_at")
    if parent.expires_at is not None and (
        not isinstance(expires, datetime) or expires > parent.expires_at
    ):
        errors["expires_at"] = (
            f"The token you are using expires at {parent.expires_at:%Y-%m-%d %H:%M} UTC: a "
            "token it creates must expire by then."
        )
    models = values.get("allowed_models")
    if parent.allowed_models is not None and (
        not isinstance(models, list) or not all(covered(m, parent.allowed_models) for m in models)
    ):
        errors["allowed_models"] = (
            "The token you are using may call only "
            f"{', '.join(parent.allowed_models)[:200]}: a token it creates may not call more."
        )
    if errors:
        raise ValidationError(errors)
