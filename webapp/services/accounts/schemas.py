"""What an organization may hold: the one definition the org forms, the orgs service and
config import and export validate through.

References (allowed models in the catalog, the default profile existing) are checked by
``orgs.py`` after this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field

from webapp.services.schemas import Record, Slug, optional_text, required_text

LONG_TEXT = 10_000


def _models(value: list[str] | None) -> list[str] | None:
    return sorted(set(value)) if value else None


AllowedModels = Annotated[
    Annotated[list[Annotated[str, Field(min_length=1, max_length=300)]], Field(max_length=1000)]
    | None,
    AfterValidator(_models),
]


# The type checker sees plain types; pydantic (at run time) gets the checked ones.
if TYPE_CHECKING:
    Name = str
    LongText = str | None
else:
    Name = required_text(120)
    LongText = optional_text(LONG_TEXT)


class OrgRecord(Record):
    """An organization's editable fields (its slug is its identity)."""

    name: Name
    description: LongText = None
    # Global model ids members may use; None means every enabled model.
    allowed_models: AllowedModels = None
    # The profile that chooses the model when nothing more specific does.
    default_profile: Annotated[
        Annotated[str, Field(max_length=64)] | None, AfterValidator(lambda v: v or None)
    ] = None
    # Managed calls are charged to each member's own balance instead of the org's.
    members_pay: bool = False
    archived: bool = False


class NewOrg(OrgRecord):
    slug: Slug


ORG_FIELDS = tuple(OrgRecord.model_fields)
ADMIN_ONLY = ("allowed_models", "members_pay", "archived")
