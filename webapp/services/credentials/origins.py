"""Where a key may be sent: one canonical origin for a URL, the URL a stored key (or a
provider's environment-variable key) would be sent to today, and whether that is still the
origin someone who may manage the key approved. For the environment-variable key (the
fallback key) the approval is the pair (variable, origin): what is sent is the value of
``api_key_env``, so naming another variable pauses it as surely as another address does.

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
from webapp.services.catalog.seed_data import PROVIDERS as PRESETS

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
    """Why a key is not sent: where it would go now is not where it was approved for (for
    the fallback key: or the variable it would send is not the one approved)."""

    provider: str  # display name
    approved: str | None
    current: str | None
    own_url: bool  # the key's own base-URL override moved (else its provider's address)
    variable: str | None = None  # the fallback key: the variable it would send now …
    approved_variable: str | None = None  # … and the one approved with ``approved``

    @property
    def new_host(self) -> str:
        return shown_origin(self.current)

    @property
    def variable_changed(self) -> bool:
        return self.variable is not None and self.variable != self.approved_variable

    @property
    def why(self) -> str:
        """The reason, as shown next to the key."""
        if self.own_url:
            return f"its base URL now points at {self.new_host}"
        if self.variable_changed and self.approved_variable is None:
            return f"{self.variable} has not been confirmed for {self.new_host}"
        if self.variable_changed:
            return (
                f"{self.provider}'s fallback key variable changed to {self.variable}, which has "
                f"not been confirmed for {self.new_host}"
            )
        return f"{self.provider}'s address changed to {self.new_host}"


def credential_pause(credential: Credential) -> Pause | None:
    """The pause of a stored key, or None when it may be sent where it would go."""
    current = origin_of(effective_url(credential))
    if current is not None and current == credential.approved_origin:
        return None
    own = bool(credential.base_url)
    return Pause(credential.provider.display_name, credential.approved_origin, current, own)


def env_key_pause(provider: Provider | ProviderInfo) -> Pause | None:
    """The pause of the provider's environment-variable key, or None when the pair (its
    variable, its address) is the pair an admin approved."""
    current = origin_of(provider_url(provider))
    variable = provider.api_key_env
    if current is not None and (variable, current) == approved_env_key(provider):
        return None
    return Pause(
        provider.display_name,
        provider.env_key_origin,
        current,
        own_url=False,
        variable=variable,
        approved_variable=provider.env_key_var,
    )


def approved_env_key(provider: Provider | ProviderInfo) -> tuple[str | None, str | None]:
    """(variable, origin): what the provider's fallback key was approved to send, and where."""
    return provider.env_key_var, provider.env_key_origin


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
    if pause.variable_changed:
        return (
            f"The fallback key {provider.api_key_env} is paused because it has not been "
            f"confirmed for {pause.new_host} ({provider.display_name}'s fallback key). An admin "
            f"can confirm sending {provider.api_key_env} there on the Keys page."
        )
    return (
        f"The fallback key {provider.api_key_env} is paused because {provider.display_name}'s "
        f"base URL now points at {pause.new_host}, not the address it was confirmed for. An "
        "admin can confirm the new address on the Keys page."
    )


def preset_env_keys() -> frozenset[tuple[str, str]]:
    """The (variable, origin) pairs the presets ship: each variable for its own service's
    address (OPENAI_API_KEY → https://api.openai.com:443)."""
    return frozenset(
        (preset.api_key_env, origin)
        for preset in PRESETS
        if preset.api_key_env and (origin := origin_of(preset.base_url)) is not None
    )


def approve_new_provider(provider: Provider) -> None:
    """A provider being created (form, API, config import, seed). Its fallback key is
    approved only when the pair is a preset's own — the variable's value is meant for that
    very host; any other pair (OPENAI_API_KEY for some other address, say) starts paused
    until an admin confirms "send VARIABLE to HOST"."""
    pair = (provider.api_key_env, origin_of(provider_url(provider)))
    if pair in preset_env_keys():
        provider.env_key_var, provider.env_key_origin = pair
    else:
        provider.env_key_var = provider.env_key_origin = None


def provider_host(provider: Provider) -> str:
    """The provider's address as people read it, e.g. https://api.openai.com."""
    return shown_origin(origin_of(provider_url(provider)))
