"""Configuration: defaults in code, overrides from the environment.

Development starts with nothing set (SQLite under ``instance/``, a generated secret key with a
warning). Production (``SWITCHBOARD_ENV=production``) refuses to start without the secrets it
needs, because a generated key would silently change on every deploy.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from email_validator import EmailNotValidError, validate_email

log = logging.getLogger(__name__)

KEY_VARS_NONE = "none"

ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(click.ClickException, RuntimeError):
    """The configuration cannot work; the message says what to set.

    A ClickException, so ``flask …`` prints it as one ``Error:`` line (exit status 1) instead
    of a traceback; a RuntimeError, so ``gunicorn --preload`` does the same.
    """


def ensure_private_dir(path: Path) -> None:
    """Create a folder only its owner can enter; a folder that exists is left as it is."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)


def create_private_file(path: Path, content: str) -> str:
    """Write a new owner-only (0600) file and return its content — or, when another process
    starting at the same moment created it first, return what that process wrote.

    Created with its final mode (never readable by others, not even for a moment) and with
    ``O_EXCL``, so two workers never end up with different generated secrets.
    """
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_written_file(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    return content


def read_written_file(path: Path, wait: float = 5.0) -> str:
    """The file's text, waiting briefly while a concurrent creator is still writing it."""
    deadline = time.monotonic() + wait
    while not (text := path.read_text()).strip():
        if time.monotonic() > deadline:
            raise ConfigError(f"{path} is empty: delete it to have a new one generated.")
        time.sleep(0.05)
    return text


def normalize_database_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(instance_path: Path, env: str) -> str:
    """SECRET_KEY from the environment, else one generated once into ``instance/``."""
    value = os.environ.get("SECRET_KEY", "").strip()
    if value:
        if len(value) < 16:
            raise ConfigError("SECRET_KEY is too short: use at least 32 random characters.")
        return value
    if env == "production":
        raise ConfigError(
            "SECRET_KEY is not set. Production needs a fixed secret key: "
            "set SECRET_KEY to 64 random hex characters, e.g. the output of `openssl rand -hex 32`."
        )
    path = instance_path / "secret_key"
    if path.exists():
        return read_written_file(path).strip()
    value = secrets.token_hex(32)
    stored = create_private_file(path, value + "\n").strip()
    if stored == value:  # this process generated it (another may have won the race)
        log.warning(
            "SECRET_KEY is not set: generated one into %s. Set SECRET_KEY in production.", path
        )
    return stored


def _admin_email() -> str | None:
    """SWITCHBOARD_ADMIN_EMAIL, checked before anything starts: a typo is one clear line."""
    value = os.environ.get("SWITCHBOARD_ADMIN_EMAIL", "").strip()
    if not value:
        return None
    try:
        validate_email(value, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise ConfigError(f"SWITCHBOARD_ADMIN_EMAIL is not a valid email address: {exc}") from None
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _provider_key_vars() -> tuple[str, ...]:
    """SWITCHBOARD_PROVIDER_KEY_VARS: the environment variables providers may name as their
    fallback key (default: the presets' own names; ``none`` allows none)."""
    from webapp.services.catalog.provider_rules import KEY_VARS_SETTING, key_env_shape_ok
    from webapp.services.catalog.seed_data import PROVIDERS

    raw = os.environ.get(KEY_VARS_SETTING, "").strip()
    if not raw:
        return tuple(dict.fromkeys(p.api_key_env for p in PROVIDERS if p.api_key_env))
    if raw.lower() == KEY_VARS_NONE:
        return ()
    names = tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    wrong = [name for name in names if not key_env_shape_ok(name)]
    if wrong:
        raise ConfigError(
            f"{KEY_VARS_SETTING} lists {', '.join(wrong)}: name variables that hold provider "
            "keys, ending in _KEY or _TOKEN, and none of Switchboard's own settings."
        )
    return names


def _sso_providers() -> tuple[Any, ...]:
    """SWITCHBOARD_OIDC_*: the OpenID Connect providers (services/accounts/sso_config.py)."""
    from webapp.services.accounts.sso_config import SsoConfigError, providers_from_env

    try:
        return providers_from_env()
    except SsoConfigError as exc:
        raise ConfigError(str(exc)) from None


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}.") from None
    if not 1 <= value <= 86_400:
        raise ConfigError(f"{name} must be between 1 and 86400 seconds.")
    return value


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, not {raw!r}.")
    return int(raw)


def _whole_number(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more), not {raw!r}.")
    return int(raw)


def _optional_limit(name: str, default: int | None = None) -> int | None:
    """A per-minute limit from the environment; unset means ``default``, 0 means none."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw == "0":
        return None
    return _positive_int(name, 1)


def _cookie_config(production: bool) -> dict[str, Any]:
    """Session and remember-me cookies: HttpOnly, SameSite=Lax, Secure in production.

    Secure production cookies get the ``__Host-`` prefix: browsers then refuse them unless they
    come over HTTPS for this exact host with ``Path=/`` and no ``Domain``, so a sibling
    subdomain cannot plant or overwrite them.
    """
    secure = _bool("SESSION_COOKIE_SECURE", production)
    prefix = "__Host-" if production and secure else ""
    remember_days = _positive_int("SWITCHBOARD_REMEMBER_DAYS", 14)
    return {
        "SESSION_COOKIE_NAME": f"{prefix}switchboard_session",
        "SESSION_COOKIE_PATH": "/",
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_NAME": f"{prefix}switchboard_remember",
        "REMEMBER_COOKIE_PATH": "/",
        "REMEMBER_COOKIE_DOMAIN": None,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        # Also checked on the server against the sign-in time inside the cookie.
        "REMEMBER_COOKIE_DURATION": timedelta(days=remember_days),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    }


def _engine_options() -> dict[str, Any]:
    """Connection pool, per worker process: ``SWITCHBOARD_DB_POOL_SIZE`` connections kept
    open (default 16) and ``SWITCHBOARD_DB_MAX_OVERFLOW`` more opened for a burst and closed
    after it (default 4).

    A call holds a connection only for a statement's round trip, never while a provider
    answers; but a gevent worker busy with many requests reads each reply late (other
    greenlets run first), so at concurrency 16 per worker about 16 are checked out at once.
    A pool smaller than that either opens and closes a connection every few requests (a new
    PostgreSQL backend each time: at concurrency 32 with 10 + 10, one per 3.5 requests, and
    20 % less throughput) or makes greenlets queue for one; so the pool is sized for that
    concurrency and the overflow stays small. Workers × (pool + overflow) must stay under
    PostgreSQL's ``max_connections`` (100 by default: 4 workers with these defaults)."""
    size = _positive_int("SWITCHBOARD_DB_POOL_SIZE", 16)
    overflow = _whole_number("SWITCHBOARD_DB_MAX_OVERFLOW", 4)
    # A connection idle for a while is pinged before use by ``webapp.extensions`` (not by
    # pool_pre_ping, which pings on every checkout: a round trip per transaction).
    return {"pool_pre_ping": False, "pool_size": size, "max_overflow": overflow, "pool_timeout": 10}


def load_config(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping; ``overrides`` (tests) win over the environment."""
    overrides = dict(overrides or {})
    env = overrides.get("SWITCHBOARD_ENV") or os.environ.get("SWITCHBOARD_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"SWITCHBOARD_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}.")
    production = env == "production"
    default_db = f"sqlite:///{instance_path / 'switchboard.db'}"
    redis_url = os.environ.get("REDIS_URL", "").strip() or None

    database_url = os.environ.get("DATABASE_URL", "").strip()
    if not database_url and "SQLALCHEMY_DATABASE_URI" not in overrides:
        ensure_private_dir(instance_path)  # the default SQLite file lives there
    config: dict[str, Any] = {
        "SWITCHBOARD_ENV": env,
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url or default_db),
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(),
        "REDIS_URL": redis_url,
        **_cookie_config(production),
        # The CSRF token is bound to the session, which already expires; Flask-WTF's default
        # one-hour limit would break admin tabs left open over lunch.
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # redis-py allows 100 connections per pool; a gevent worker with hundreds of calls in
        # flight counts each against the limits at once and hit "Too many connections".
        "RATELIMIT_STORAGE_OPTIONS": (
            {"max_connections": _positive_int("SWITCHBOARD_REDIS_MAX_CONNECTIONS", 1000)}
            if redis_url
            else {}
        ),
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "switchboard",
        "LOGIN_RATE_LIMIT": os.environ.get("SWITCHBOARD_LOGIN_RATE_LIMIT", "10 per minute"),
        "SEED_ON_START": _bool("SWITCHBOARD_SEED_ON_START", True),
        # Retention applied by the server itself, at start and once a day (one process at a
        # time; services/usage/scheduler.py). Off under tests; CLI commands never start it.
        "RETENTION_SCHEDULER": _bool("SWITCHBOARD_RETENTION_SCHEDULER", env != "testing"),
        "SWITCHBOARD_ADMIN_EMAIL": _admin_email(),
        "SWITCHBOARD_ADMIN_PASSWORD": os.environ.get("SWITCHBOARD_ADMIN_PASSWORD") or None,
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        # Pasted configuration documents (up to 2 MB) arrive as a form field.
        "MAX_FORM_MEMORY_SIZE": 3 * 1024 * 1024,
        "PASSWORD_HASH_METHOD": "scrypt",
        "PROVIDER_KEY_VARS": _provider_key_vars(),
        # Single sign-on: OpenID providers, and whether the password form is offered at all.
        "OIDC_PROVIDERS": _sso_providers(),
        "PASSWORD_SIGN_IN": _bool("SWITCHBOARD_PASSWORD_SIGN_IN", True),
        # Outbound calls: one deadline for a call's attempts, waits and fallbacks; a stream
        # may run this long from its first byte (each read has the request timeout).
        "LLM_CALL_DEADLINE_S": _seconds("SWITCHBOARD_LLM_CALL_DEADLINE_S", 180.0),
        "LLM_STREAM_MAX_S": _seconds("SWITCHBOARD_LLM_STREAM_MAX_S", 600.0),
        # Provider cooldown: this many outages within the window rest a model (and its
        # provider, when they span its models or it cannot be reached) for COOLDOWN_S; then
        # one call probes it, holding the claim for COOLDOWN_PROBE_S (see
        # webapp/services/llm/cooldown.py).
        "COOLDOWN_FAILURES": _positive_int("SWITCHBOARD_COOLDOWN_FAILURES", 5),
        "COOLDOWN_WINDOW_S": _seconds("SWITCHBOARD_COOLDOWN_WINDOW_S", 60.0),
        "COOLDOWN_S": _seconds("SWITCHBOARD_COOLDOWN_S", 60.0),
        "COOLDOWN_PROBE_S": _seconds("SWITCHBOARD_COOLDOWN_PROBE_S", 30.0),
        # The gateway (/v1): the largest request body it reads (413 above), and per-user and
        # per-org limits per minute (None: none; each token carries its own limits).
        "GATEWAY_MAX_BODY_BYTES": _positive_int(
            "SWITCHBOARD_GATEWAY_MAX_BODY_BYTES", 4 * 1024 * 1024
        ),
        "GATEWAY_USER_RPM": _optional_limit("SWITCHBOARD_GATEWAY_USER_RPM"),
        "GATEWAY_USER_TPM": _optional_limit("SWITCHBOARD_GATEWAY_USER_TPM"),
        "GATEWAY_ORG_RPM": _optional_limit("SWITCHBOARD_GATEWAY_ORG_RPM"),
        "GATEWAY_ORG_TPM": _optional_limit("SWITCHBOARD_GATEWAY_ORG_TPM"),
        # The management API (/api/v1): requests per minute per access token, and a stricter
        # limit for the sensitive routes (credentials, users); None turns a limit off.
        "API_RPM": _optional_limit("SWITCHBOARD_API_RPM", 600),
        "API_SENSITIVE_RPM": _optional_limit("SWITCHBOARD_API_SENSITIVE_RPM", 60),
        # Refused access tokens per client address per minute (API and gateway) before the
        # address gets 429 for the rest of the minute; None turns the throttle off.
        "API_AUTH_FAILURES_PER_MINUTE": _optional_limit(
            "SWITCHBOARD_API_AUTH_FAILURES_PER_MINUTE", 30
        ),
    }
    config.update(overrides)
    if not config["PASSWORD_SIGN_IN"] and not config["OIDC_PROVIDERS"]:
        raise ConfigError(
            "SWITCHBOARD_PASSWORD_SIGN_IN=0 needs at least one OpenID provider "
            "(SWITCHBOARD_OIDC_PROVIDERS): nobody could sign in."
        )
    if "SECRET_KEY" not in config:
        config["SECRET_KEY"] = _secret_key(instance_path, env)
    return config
