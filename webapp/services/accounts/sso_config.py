"""OpenID Connect providers, read from the environment once at start-up.

``SWITCHBOARD_OIDC_PROVIDERS=corp,partner`` names them; each name ``N`` then reads
``SWITCHBOARD_OIDC_<N>_ISSUER``, ``_CLIENT_ID``, ``_CLIENT_SECRET`` (required) and
``_LABEL``, ``_ALLOWED_DOMAINS``, ``_CREATE_USERS``, ``_LINK_BY_EMAIL``, ``_GROUPS_CLAIM``,
``_GROUP_MAP``, ``_SCOPES`` (optional). The README's "Single sign-on" section explains each.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

PREFIX = "SWITCHBOARD_OIDC_"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
ADMIN = "admin"


@dataclass(frozen=True)
class GroupGrant:
    """What membership of one group gives: the site admin role, or a place in an org."""

    admin: bool = False
    org_slug: str | None = None
    org_admin: bool = False


@dataclass(frozen=True)
class OidcProvider:
    name: str
    label: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    allowed_domains: tuple[str, ...] = ()
    create_users: bool = True
    link_by_email: bool = False
    groups_claim: str = "groups"
    group_map: Mapping[str, tuple[GroupGrant, ...]] = field(default_factory=dict)
    scopes: str = "openid email profile"

    def domain_allowed(self, email: str) -> bool:
        if not self.allowed_domains:
            return True
        return email.rsplit("@", 1)[-1].lower() in self.allowed_domains


class SsoConfigError(ValueError):
    """A provider's settings cannot work; the message names the variable."""


def _truthy(raw: str | None, default: bool) -> bool:
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def check_issuer(issuer: str, variable: str) -> str:
    """An https URL (plain http only on loopback, for local testing), without a trailing /."""
    parts = urlsplit(issuer)
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.query:
        raise SsoConfigError(f"{variable} must be the issuer's https URL, not {issuer!r}.")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise SsoConfigError(f"{variable} must use https (plain http only for 127.0.0.1).")
    return issuer.rstrip("/")


def parse_group_map(raw: str, variable: str) -> dict[str, tuple[GroupGrant, ...]]:
    """``group=admin;group=org-slug;group=org-slug:admin`` (``;`` between entries, since
    group names such as LDAP DNs contain commas; the last ``=`` separates the target)."""
    grants: dict[str, list[GroupGrant]] = {}
    for entry in (part.strip() for part in raw.split(";")):
        if not entry:
            continue
        group, sep, target = entry.rpartition("=")
        group, target = group.strip(), target.strip().lower()
        if not sep or not group or not target:
            raise SsoConfigError(f"{variable}: {entry!r} is not GROUP=admin or GROUP=org[:admin].")
        if target == ADMIN:
            grant = GroupGrant(admin=True)
        else:
            slug, _, role = target.partition(":")
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", slug) or role not in {"", ADMIN}:
                raise SsoConfigError(
                    f"{variable}: {target!r} is not admin, ORG-SLUG or SLUG:admin."
                )
            grant = GroupGrant(org_slug=slug, org_admin=role == ADMIN)
        grants.setdefault(group, []).append(grant)
    return {group: tuple(items) for group, items in grants.items()}


def _provider(name: str, env: Mapping[str, str]) -> OidcProvider:
    key = f"{PREFIX}{name.upper()}_"

    def required(suffix: str) -> str:
        value = env.get(key + suffix, "").strip()
        if not value:
            raise SsoConfigError(f"{key}{suffix} is not set (provider {name!r}).")
        return value

    domains = env.get(key + "ALLOWED_DOMAINS", "")
    return OidcProvider(
        name=name,
        label=env.get(key + "LABEL", "").strip() or name.replace("_", " ").title(),
        issuer=check_issuer(required("ISSUER"), key + "ISSUER"),
        client_id=required("CLIENT_ID"),
        client_secret=required("CLIENT_SECRET"),
        allowed_domains=tuple(
            d.strip().lower().lstrip("@") for d in domains.split(",") if d.strip()
        ),
        create_users=_truthy(env.get(key + "CREATE_USERS"), True),
        link_by_email=_truthy(env.get(key + "LINK_BY_EMAIL"), False),
        groups_claim=env.get(key + "GROUPS_CLAIM", "").strip() or "groups",
        group_map=parse_group_map(env.get(key + "GROUP_MAP", ""), key + "GROUP_MAP"),
        scopes=env.get(key + "SCOPES", "").strip() or "openid email profile",
    )


def providers_from_env(env: Mapping[str, str] | None = None) -> tuple[OidcProvider, ...]:
    """The configured providers, in the order ``SWITCHBOARD_OIDC_PROVIDERS`` lists them."""
    env = os.environ if env is None else env
    names = [n.strip().lower() for n in env.get(f"{PREFIX}PROVIDERS", "").split(",") if n.strip()]
    for name in names:
        if not NAME.match(name):
            raise SsoConfigError(
                f"{PREFIX}PROVIDERS: {name!r} is not a name (letters, digits, _; 32 at most)."
            )
    if len(set(names)) != len(names):
        raise SsoConfigError(f"{PREFIX}PROVIDERS names a provider twice.")
    providers = tuple(_provider(name, env) for name in names)
    issuers = [p.issuer for p in providers]
    if len(set(issuers)) != len(issuers):
        raise SsoConfigError("Two OpenID providers have the same issuer.")
    return providers
