"""The call path keeps stored keys (decrypted), providers and the catalog in a per-process
cache. A write of any of them bumps the settings version in its own transaction: the writing
process drops its copy when that transaction ends, every other process at its next check of
the counter. A key that was changed, deleted or paused is never sent once the change commits.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import current_app

from tests import factories
from webapp.extensions import db
from webapp.models import Credential, Provider
from webapp.services import llm
from webapp.services.credentials import resolution, rotation
from webapp.services.credentials import storage as credentials
from webapp.services.errors import NotConfigured
from webapp.services.settings import cache as settings_cache_module
from webapp.services.settings.cache import SettingsCache, read_version, settings_cache

HI = [{"role": "user", "content": "Hi"}]
OLD, NEW = "sk-cache-old-key-000000000001", "sk-cache-new-key-000000000002"


def sent_keys(wired) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        r.headers["authorization"].removeprefix("Bearer ") for r in wired.requests_to("openai.chat")
    ]


@pytest.fixture
def key(wired, admin):  # type: ignore[no-untyped-def]
    """OpenAI's one global key is OLD, and a call has already cached it."""
    db.session.delete(factories.global_key("openai"))
    db.session.commit()
    credential = factories.global_key("openai", OLD)
    llm.complete(HI, context=llm.CallContext(user=admin))
    assert sent_keys(wired) == [OLD]
    return credential


class OtherProcess:
    """Another worker's cache: it shares only the database counter with this one."""

    def __init__(self) -> None:
        self.now = 0.0
        self.cache = SettingsCache(clock=lambda: self.now)

    def __enter__(self) -> SettingsCache:
        self.mine = current_app.extensions.get(settings_cache_module.EXTENSION)
        current_app.extensions[settings_cache_module.EXTENSION] = self.cache
        return self.cache

    def __exit__(self, *_: object) -> None:
        current_app.extensions[settings_cache_module.EXTENSION] = self.mine


def openai() -> Provider:
    return db.session.scalar(sa.select(Provider).where(Provider.slug == "openai"))


def test_a_call_reads_no_key_or_provider_row_once_cached(wired, admin, key):
    statements: list[str] = []
    listen = lambda *a: statements.append(a[2])  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        llm.complete(HI, context=llm.CallContext(user=admin))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert not [s for s in statements if "FROM credentials" in s or "FROM providers" in s]
    assert sent_keys(wired) == [OLD, OLD]


def test_a_changed_secret_is_used_from_the_next_call(wired, admin, key):
    version = read_version()
    credentials.update_credential(admin, key, credentials.CredentialInput(secret=NEW), None)
    assert read_version() > version
    llm.complete(HI, context=llm.CallContext(user=admin))
    assert sent_keys(wired) == [OLD, NEW]


def test_a_deleted_key_is_never_sent_after_the_delete_commits(wired, admin, key):
    credentials.delete_credential(admin, key)
    with pytest.raises(llm.LLMError):
        llm.complete(HI, context=llm.CallContext(user=admin))
    assert sent_keys(wired) == [OLD]


def test_a_cached_key_is_not_sent_once_its_expiry_passes(wired, admin, key):
    """Expiry is checked on every call against the clock, not when the key was cached."""
    from datetime import timedelta

    from webapp.models.base import utcnow

    soon = (utcnow() + timedelta(days=10)).date()
    credentials.update_credential(admin, key, credentials.CredentialInput(expires_on=soon), None)
    assert resolution.resolve_keys(admin, None, openai())[0].secret == OLD  # cached now
    later = utcnow() + timedelta(days=12)
    with pytest.raises(NotConfigured, match="expired"):
        resolution.resolve_keys(admin, None, openai(), now=later)


def test_a_provider_move_pauses_its_key_at_once(wired, admin, key):
    provider = openai()
    provider.base_url = "https://elsewhere.example.com/v1"
    db.session.commit()
    with pytest.raises(llm.LLMError, match="paused"):
        llm.complete(HI, context=llm.CallContext(user=admin))
    assert sent_keys(wired) == [OLD]


def test_rotation_to_a_new_encryption_key_bumps_the_version(app, wired, admin, key):
    from webapp.services.credentials import crypto

    ring = crypto.keyring()
    old, new = crypto.generate_entry("v1"), crypto.generate_entry("v2")
    try:
        app.extensions[crypto.EXTENSION] = crypto.parse_keys(old)
        credentials.update_credential(admin, key, credentials.CredentialInput(secret=OLD), None)
        llm.complete(HI, context=llm.CallContext(user=admin))  # cached under v1
        app.extensions[crypto.EXTENSION] = crypto.parse_keys(f"{new},{old}")
        version = read_version()
        report = rotation.rotate_all()
        assert report.rotated == 1 and read_version() > version
        # Only the new key remains: a cached v1 ciphertext would no longer decrypt.
        app.extensions[crypto.EXTENSION] = crypto.parse_keys(new)
        llm.complete(HI, context=llm.CallContext(user=admin))
        assert sent_keys(wired) == [OLD, OLD, OLD]
    finally:
        app.extensions[crypto.EXTENSION] = ring


def test_another_process_drops_its_copy_at_its_next_check_of_the_counter(wired, admin, key):
    provider_id = openai().id
    other = OtherProcess()
    with other as cache:
        assert [k.secret for k in resolution.stored_keys("global", provider_id)] == [OLD]
        loads = cache.loads
    # This process changes the key; the other one is told nothing but the counter.
    credentials.update_credential(admin, key, credentials.CredentialInput(secret=NEW), None)
    with other as cache:
        cache._checked_at = other.now  # it checked the counter a moment ago
        other.now += settings_cache_module.CHECK_INTERVAL
        assert [k.secret for k in resolution.stored_keys("global", provider_id)] == [NEW]
        assert cache.loads == loads + 1


def test_a_rolled_back_key_write_leaves_no_trace_in_the_cache(wired, admin, key):
    provider_id = openai().id
    key.label = "renamed"
    db.session.flush()  # bumps the counter in this transaction
    assert [k.label for k in resolution.stored_keys("global", provider_id)] == ["renamed"]
    db.session.rollback()
    assert [k.label for k in resolution.stored_keys("global", provider_id)] == ["default"]


def test_a_key_rejected_by_the_provider_goes_last_in_every_process(wired, admin, key):
    version = read_version()
    credentials.record_test(key.id, "invalid", "401")
    assert read_version() == version + 1
    stored = resolution.stored_keys("global", openai().id)
    assert [k.last_test_status for k in stored] == ["invalid"]
    credentials.record_test(key.id, "invalid", "401 again")  # no change: no bump
    assert read_version() == version + 1


def test_writes_of_unrelated_rows_keep_the_cache(wired, admin, key):
    cache = settings_cache()
    resolution.stored_keys("global", openai().id)
    loads = cache.loads
    from webapp.models.base import utcnow

    admin.last_login_at = utcnow()
    db.session.commit()
    resolution.stored_keys("global", openai().id)
    assert cache.loads == loads


def test_an_undecryptable_key_says_so_without_its_ciphertext(wired, admin, key):
    table = Credential.__table__
    db.session.execute(
        sa.update(table).where(table.c.id == key.id).values(secret_ciphertext="v1:AAAA")
    )
    settings_cache().clear()  # a direct database edit: nothing bumped the counter
    with pytest.raises(llm.LLMError, match="cannot be decrypted"):
        llm.complete(HI, context=llm.CallContext(user=admin))
