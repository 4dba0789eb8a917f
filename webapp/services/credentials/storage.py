"""Provider keys at global, organization and user scope, through one set of use cases.

A secret is encrypted before it reaches the database and decrypted only in memory, by key
resolution. Everything else sees ``•••• set (…AbCd)`` — or only ``•••• set`` for a key
shorter than ``HINT_MIN`` characters, where four characters would give too much away.
Every change is audited with the secret shown only as ``[set]``, ``[changed]`` or
``[removed]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Credential, LastTestStatus, OrgRole, Provider, Scope, User
from webapp.models.base import utcnow
from webapp.models.credential import owner_key
from webapp.services import side_writes
from webapp.services.accounts import recent_sign_in
from webapp.services.audit import events as audit
from webapp.services.changes import commit_change, delete_record
from webapp.services.credentials import crypto
from webapp.services.credentials.hostnames import unprintable
from webapp.services.credentials.origins import effective_url, origin_of, provider_url
from webapp.services.credentials.url_guard import check_base_url
from webapp.services.days import LAST_DAY, check_days
from webapp.services.errors import NotFound, ValidationError
from webapp.services.settings.cache import bump_on

log = logging.getLogger(__name__)

AUDITED_FIELDS = ("provider", "label", "base_url", "expires_at")
MIN_SECRET, MAX_SECRET = 8, 4096
HINT_MIN = 20  # shorter keys show none of their characters
CONFIRM_ACTION = "Sending a stored key to a new address"


@dataclass(frozen=True)
class Owner:
    """Whose key it is: the site (global), one organization, or one user."""

    scope: str
    org_id: int | None = None
    user_id: int | None = None

    @property
    def key(self) -> str:
        return owner_key(self.scope, self.org_id, self.user_id)


GLOBAL = Owner(Scope.GLOBAL)


def org_owner(org_id: int) -> Owner:
    return Owner(Scope.ORG, org_id=org_id)


def user_owner(user_id: int) -> Owner:
    return Owner(Scope.USER, user_id=user_id)


@dataclass(frozen=True)
class CredentialInput:
    """What a form sends. On update an empty ``secret`` means "unchanged"; ``confirm_origin``
    approves sending the stored key to wherever it would go after the update."""

    label: str = "default"
    secret: str | None = None
    base_url: str | None = None
    expires_on: date | None = None
    confirm_origin: bool = False


def may_manage(actor: User, owner: Owner) -> bool:
    """Admins manage global keys, org admins their org's, each user only their own."""
    if owner.scope == Scope.USER:
        return actor.id == owner.user_id
    if actor.is_admin:
        return True
    return owner.scope == Scope.ORG and actor.org_role(owner.org_id or 0) == OrgRole.ORG_ADMIN


def aad_for(credential_id: int, scope: str, owner: str, provider_id: int) -> bytes:
    """Associated data binding a ciphertext to its row: id, scope, owner and provider."""
    return f"switchboard/credential|{credential_id}|{scope}|{owner}|{provider_id}".encode()


def credential_aad(credential: Credential) -> bytes:
    return aad_for(credential.id, credential.scope, credential.owner_key, credential.provider_id)


def hint_for(secret: str) -> str:
    """The last four characters, kept to tell keys apart — only for long enough keys."""
    return secret[-4:] if len(secret) >= HINT_MIN else ""


def _clean_secret(secret: str) -> str:
    """Keys travel in HTTP headers: printable ASCII only, refused here rather than failing
    as an unreadable request later."""
    secret = secret.strip()
    if len(secret) < MIN_SECRET:
        raise ValidationError({"secret": f"A key has at least {MIN_SECRET} characters."})
    if len(secret) > MAX_SECRET:
        raise ValidationError({"secret": f"A key has at most {MAX_SECRET} characters."})
    if any(not "!" <= ch <= "~" for ch in secret):
        raise ValidationError(
            {
                "secret": "A key contains only printable ASCII characters: no spaces, control "
                "characters or letters outside ASCII. Copy it again from the provider."
            }
        )
    return secret


def _expiry(day: date | None, *, must_be_future: bool) -> datetime | None:
    """A key that expires "on" a day is valid through that day (UTC)."""
    if day is None:
        return None
    if must_be_future and day < utcnow().date():
        raise ValidationError({"expires_on": "The expiry date is in the past."})
    if day > LAST_DAY:  # the day after 9999-12-31 does not exist
        raise ValidationError(
            {"expires_on": "Choose a date before 9999, or none for a key that does not expire."}
        )
    check_days(expires_on=day)
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def _clean(data: CredentialInput) -> tuple[str, str | None]:
    label = (data.label or "").strip() or "default"
    if len(label) > 100:
        raise ValidationError({"label": "A label has at most 100 characters."})
    bad = unprintable(label)
    if bad:
        raise ValidationError({"label": f"The label contains an invisible character ({bad})."})
    base_url = check_base_url(data.base_url) if data.base_url and data.base_url.strip() else None
    return label, base_url


def _provider(provider_id: int, owner: Owner) -> Provider:
    provider = db.session.get(Provider, provider_id)
    if provider is None or (owner.scope == Scope.USER and not provider.enabled):
        raise ValidationError({"provider_id": "Choose one of the enabled providers."})
    return provider


def _label_taken(owner: Owner, provider_id: int, label: str, exclude_id: int | None) -> bool:
    query = sa.select(Credential.id).where(
        Credential.owner_key == owner.key,
        Credential.provider_id == provider_id,
        Credential.label == label,
    )
    if exclude_id is not None:
        query = query.where(Credential.id != exclude_id)
    return db.session.scalar(query) is not None


def _snapshot(credential: Credential) -> dict[str, object]:
    values = audit.snapshot(credential, ("label", "base_url", "expires_at", "approved_origin"))
    values["provider"] = credential.provider.slug
    return values


def _label(credential: Credential) -> str:
    return f"{credential.scope} key {credential.provider.slug}/{credential.label}"


def _commit(
    actor: User | None,
    credential: Credential,
    action: str,
    before: dict[str, object] | None,
    secrets: dict[str, str | None],
) -> None:
    commit_change(
        actor,
        action=action,
        target_type="credential",
        target_id=credential.id,
        target_label=_label(credential),
        before=before,
        after=_snapshot(credential),
        org_id=credential.org_id,
        secrets=secrets,
    )


def list_credentials(owner: Owner) -> list[Credential]:
    """The owner's keys, by provider then label."""
    return list(
        db.session.scalars(
            sa.select(Credential)
            .join(Provider)
            .options(selectinload(Credential.provider))
            .where(Credential.owner_key == owner.key)
            .order_by(Provider.display_name, Credential.label)
        )
    )


def get_credential(actor: User, owner: Owner, credential_id: int) -> Credential:
    """The owner's credential, if the actor may manage it; 404 otherwise (no existence leak)."""
    credential = db.session.get(Credential, credential_id)
    if credential is None or credential.owner_key != owner.key or not may_manage(actor, owner):
        raise NotFound("That key does not exist.")
    return credential


def create_credential(
    actor: User | None, owner: Owner, provider_id: int | None, data: CredentialInput
) -> Credential:
    """Store a new key. ``actor`` None is the operator on the command line (global keys only)."""
    if actor is None and owner.scope != Scope.GLOBAL:
        raise NotFound("That owner does not exist.")
    if actor is not None and not may_manage(actor, owner):
        raise NotFound("That owner does not exist.")
    errors: dict[str, str] = {}
    provider = None
    try:
        provider = _provider(provider_id or 0, owner)
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        secret = _clean_secret(data.secret or "")
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        label, base_url = _clean(data)
        expires_at = _expiry(data.expires_on, must_be_future=True)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    assert provider is not None
    if _label_taken(owner, provider.id, label, None):
        raise ValidationError(
            {
                "label": f"There is already a {provider.display_name} key "
                f"labelled “{label}”. Choose another label."
            }
        )
    credential = Credential(
        scope=owner.scope,
        org_id=owner.org_id,
        user_id=owner.user_id,
        owner_key=owner.key,
        provider=provider,
        label=label,
        base_url=base_url,
        expires_at=expires_at,
        secret_ciphertext="",
        secret_hint=hint_for(secret),
        created_by_id=actor.id if actor is not None else None,
    )
    # The person typing the key approves the address it will be sent to.
    credential.approved_origin = origin_of(effective_url(credential))
    db.session.add(credential)
    try:
        db.session.flush()  # the id is part of the associated data
    except IntegrityError:  # the same label saved at the same moment elsewhere
        db.session.rollback()
        raise ValidationError(
            {
                "label": f"There is already a {provider.display_name} key "
                f"labelled “{label}”. Choose another label."
            }
        ) from None
    credential.secret_ciphertext = crypto.keyring().encrypt(secret, credential_aad(credential))
    _commit(actor, credential, "create", None, {"secret": audit.SET})
    log.info("credential %s created (%s, provider %s)", credential.id, owner.scope, provider.slug)
    return credential


def update_credential(
    actor: User, credential: Credential, data: CredentialInput, expected_version: int | None
) -> Credential:
    """Change label, base URL, expiry and, when a new one is typed, the secret."""
    owner = Owner(credential.scope, credential.org_id, credential.user_id)
    if not may_manage(actor, owner):
        raise NotFound("That key does not exist.")
    credential.check_version(expected_version, "this key")
    label, base_url = _clean(data)
    new_secret = _clean_secret(data.secret) if data.secret and data.secret.strip() else None
    same_day = (
        credential.expires_at
        and data.expires_on == (credential.expires_at - timedelta(days=1)).date()
    )
    expires_at = (
        credential.expires_at if same_day else _expiry(data.expires_on, must_be_future=True)
    )
    if _label_taken(owner, credential.provider_id, label, credential.id):
        raise ValidationError({"label": f"Another key for this provider is labelled “{label}”."})
    if new_secret is None and data.confirm_origin:
        # Sending the *stored* key somewhere new: the same proof as the confirm routes ask.
        target = base_url or provider_url(credential.provider)
        if origin_of(target) != credential.approved_origin:
            recent_sign_in.require(CONFIRM_ACTION)
    before = _snapshot(credential)
    moved = base_url != credential.base_url
    credential.label, credential.base_url, credential.expires_at = label, base_url, expires_at
    marker = None
    if moved:  # a rejection by the old address says nothing about the new one
        credential.last_test_status, credential.last_test_at = LastTestStatus.UNKNOWN, None
        credential.last_test_message = None
    if new_secret is not None:
        credential.secret_ciphertext = crypto.keyring().encrypt(
            new_secret, credential_aad(credential)
        )
        credential.secret_hint = hint_for(new_secret)
        credential.last_test_status, credential.last_test_at = LastTestStatus.UNKNOWN, None
        credential.last_test_message = None
        marker = audit.CHANGED
    if new_secret is not None or data.confirm_origin:
        credential.approved_origin = origin_of(effective_url(credential))
    confirmed = marker is None and "approved_origin" in audit.diff(before, _snapshot(credential))
    action = "confirm_origin" if confirmed else "update"
    _commit(actor, credential, action, before, {"secret": marker})
    return credential


def delete_credential(actor: User, credential: Credential) -> None:
    if not may_manage(actor, Owner(credential.scope, credential.org_id, credential.user_id)):
        raise NotFound("That key does not exist.")
    delete_record(
        actor,
        credential,
        target_type="credential",
        target_label=_label(credential),
        changes=audit.diff(_snapshot(credential), None, {"secret": audit.REMOVED}),
        org_id=credential.org_id,
    )
    log.info("credential %s deleted", credential.id)


def decrypt_secret(credential: Credential) -> str:
    """The plaintext key, for the one moment a call needs it. Never store or log it."""
    try:
        return crypto.keyring().decrypt(credential.secret_ciphertext, credential_aad(credential))
    except crypto.DecryptionError as exc:  # the row id and the reason, never the ciphertext
        log.error("credential %s cannot be decrypted: %s", credential.id, exc)
        raise


def record_test(credential_id: int, status: str, message: str | None) -> None:
    """Bookkeeping of a connection test, in its own transaction (the caller's is left alone)
    and without bumping the version an open edit form relies on. A changed status reorders
    the key's pool, so it also drops every process's cached copy of the key."""
    table = Credential.__table__
    values = {
        "last_test_status": status,
        "last_test_at": utcnow(),
        "last_test_message": (message or "")[:500] or None,
        "updated_at": table.c.updated_at,  # bookkeeping, not an edit
    }
    with side_writes.own_transaction() as connection:
        changed = connection.execute(
            sa.update(table)
            .where(table.c.id == credential_id, table.c.last_test_status != status)
            .values(**values)
        ).rowcount
        if changed:
            bump_on(connection)
        else:
            connection.execute(sa.update(table).where(table.c.id == credential_id).values(**values))
    side_writes.forget_cached(Credential, credential_id)
