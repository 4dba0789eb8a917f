"""What a feature and a profile may hold: the one definition the feature and profile forms,
their services, config import and export and the seed all validate through.

References (does the profile named exist here?) are checked by the services after these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from webapp.services.schemas import Record, Slug, optional_text, required_text
from webapp.services.settings.fields import NAMES

LONG_TEXT = 10_000
MAX_SYSTEM_PROMPT = 20_000


def _locked_in(value: Any) -> Any:
    """A form sends a list (or nothing); a document a list or null."""
    return None if value == "" else value


def _locked(value: list[str] | None) -> list[str] | None:
    """Known settings fields, once each, in the field table's order."""
    if unknown := sorted({n for n in value or [] if n not in NAMES}):
        raise ValueError(f"Unknown settings: {', '.join(unknown)}.")
    return [name for name in NAMES if name in set(value or [])] or None


def _profile_name(value: str | None) -> str | None:
    return value or None


ProfileName = Annotated[Annotated[str, Field(max_length=64)] | None, AfterValidator(_profile_name)]
LockedFields = Annotated[
    Annotated[list[str], Field(max_length=len(NAMES))] | None,
    BeforeValidator(_locked_in),
    AfterValidator(_locked),
]


# The type checker sees plain types; pydantic (at run time) gets the checked ones.
if TYPE_CHECKING:
    Name = str
    LongText = str | None
    SystemPrompt = str | None
else:
    Name = required_text(120)
    LongText = optional_text(LONG_TEXT)
    SystemPrompt = optional_text(MAX_SYSTEM_PROMPT)


class FeatureRecord(Record):
    """A feature's editable fields (its slug and owner are its identity)."""

    name: Name
    description: LongText = None
    profile_name: ProfileName = None
    enabled: bool = True
    # Settings fields users and per-call overrides cannot change for this feature.
    locked_fields: LockedFields = None
    # Put before every call's messages as the first system message.
    system_prompt: SystemPrompt = None


class NewFeature(FeatureRecord):
    slug: Slug


class ProfileRecord(Record):
    description: LongText = None


class NewProfile(ProfileRecord):
    name: Slug


FEATURE_FIELDS = tuple(FeatureRecord.model_fields)
PROFILE_FIELDS = tuple(ProfileRecord.model_fields)
