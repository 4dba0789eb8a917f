"""Where a key may be sent: one canonical origin for a URL, the URL a stored key (or a
provider's environment-variable key) would be sent to today, and whether that is still the
origin someone who may manage the key approved.

A key whose effective origin moved away from its approved origin is *paused*: key resolution
skips it until it is re-entered or the new origin is confirmed. Paused is derived, never
stored, so every way a URL can change (the provider form, a key's own override, a config
import, a direct database edit) pauses the same keys, and changing the URL back resumes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from webapp.extensions import db
from webapp.models import Credential, Organization, Provider, Scope

if TYPE_CHECKING:
    from webapp.services.catalog.snapshot import ProviderInfo

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str | None) -> str | None:
    """``scheme://host:port`` with the port always written and IPv6 in brackets; None when the
    URL is unusable. The same rule as migration 0002 used to approve existing keys."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}"


def shown_origin(origin: str | None) -> str:
    """An origin as people read it: the port only when it is not the scheme's default."""
    if not origin:
        return "an unusable address"
    scheme, _, rest = origin.partition("://")
    host, _, port = rest.rpartition(":")
    return f"{scheme}://{host}" if DEFAULT_PORTS.get(scheme) == int(port) else origin


def sdk_default_url(protocol: str) -> str | None:
    """The URL the official SDK calls when a provider names none."""
    # Imported here: the llm package imports key resolution, which imports this module.
    from webapp.services.llm.adapters import anthropic_adapter, openai_adapter

    if protocol == "anthropic":
        return anthropic_adapter.DEFAULT_BASE_URL
    return openai_adapter.DEFAULT_BASE_URL if protocol == "openai" else None


def configured_url(base_url: str | None, protocol: str) -> str | None:
    """The URL calls go to with this base URL (None: the SDK's default) and protocol."""
    return base_url or sdk_default_url(protocol)


def provider_url(provider: Provider | ProviderInfo) -> str | None:
    """The URL calls to ``provider`` (and keys without their own override) go to."""
    return configured_url(provider.base_url, provider.protocol)


def effective_url(credential: Credential) -> str | None:
    """The URL a stored key is sent to: its own override, else its provider's."""
    return credential.base_url or provider_url(credential.provider)


@dataclass(frozen=True)
class Pause:
    """Why a key is not sent: where it would go now is not where it was approved for."""

    provider: str  # display name
    approved: str | None
    current: str | None
    own_url: bool  # the key's own base-URL override moved (else its provider's address)

    @property
    def new_host(self) -> str:
        return shown_origin(self.current)

    @property
    def why(self) -> str:
        """The reason, as shown next to the key."""
        if self.own_url:
            return f"its base URL now points at {self.new_host}"
        return f"{self.provider}'s address changed to {self.new_host}"


def credential_pause(credential: Credential) -> Pause | None:
    """The pause of a stored key, or None when it may be sent where it would go."""
    current = origin_of(effective_url(credential))
    if current is not None and current == credential.approved_origin:
        return None
    own = bool(credential.base_url)
    return Pause(credential.provider.display_name, credential.approved_origin, current, own)


def env_key_pause(provider: Provider | ProviderInfo) -> Pause | None:
    """The pause of the provider's environment-variable key, or None."""
    current = origin_of(provider_url(provider))
    if current is not None and current == provider.env_key_origin:
        return None
    return Pause(provider.display_name, provider.env_key_origin, current, own_url=False)


def who_confirms(credential: Credential) -> str:
    """Who may resume a paused key, and where."""
    if credential.scope == Scope.USER:
        return "Its owner can re-enter it or confirm the new address on their Settings page."
    if credential.scope == Scope.ORG:
        org = db.session.get(Organization, credential.org_id)
        name = org.name if org is not None else "the organization"
        return (
            f"An admin of {name} can re-enter it or confirm the new address on the "
            "organization's page."
        )
    return "An admin can re-enter it or confirm the new address on the Keys page."


def paused_message(credential: Credential, pause: Pause) -> str:
    """Why a call may not use this key, for the 'not configured' error."""
    owner = {Scope.USER.value: "personal", Scope.ORG.value: "organization"}.get(
        credential.scope, "global"
    )
    where = "its base URL" if pause.own_url else f"{pause.provider}'s base URL"
    return (
        f"The {owner} {pause.provider} key “{credential.label}” is paused because {where} now "
        f"points at {pause.new_host}, not the address it was confirmed for. "
        + who_confirms(credential)
    )


def env_paused_message(provider: Provider | ProviderInfo, pause: Pause) -> str:
    return (
        f"The fallback key {provider.api_key_env} is paused because {provider.display_name}'s "
        f"base URL now points at {pause.new_host}, not the address it was confirmed for. An "
        "admin can confirm the new address on the Keys page."
    )


def approve_new_provider(provider: Provider) -> None:
    """A provider being created (form, config import, seed): its fallback key may go to the
    address it is created with. Later address changes pause it until an admin confirms."""
    provider.env_key_origin = origin_of(provider_url(provider))


def provider_host(provider: Provider) -> str:
    """The provider's address as people read it, e.g. https://api.openai.com."""
    return shown_origin(origin_of(provider_url(provider)))
