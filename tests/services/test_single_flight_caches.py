"""Per-process caches reload once at a time: when an entry runs out under load, the requests
that arrive during the reload keep the entry they have instead of each taking a database
connection for the same row (what filled the pool under 500 concurrent streams)."""

from __future__ import annotations

import threading
from typing import Any

from webapp.services.settings import cache as cache_module
from webapp.services.settings.cache import SettingsCache
from webapp.services.tokens import auth


class SlowRead:
    """Stands for the database read: blocks until released, counts its callers."""

    def __init__(self, value: Any) -> None:
        self.value, self.calls = value, 0
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, *_: Any) -> Any:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(5)
        return self.value


def test_one_settings_check_at_a_time_and_never_past_an_own_write(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    now = [0.0]
    cache = SettingsCache(clock=lambda: now[0])
    monkeypatch.setattr(cache_module, "read_version", lambda: 1)
    assert cache.get("k", lambda: "v1") == "v1"  # version 1 known
    now[0] = 10.0  # the interval ran out
    slow = SlowRead(1)
    monkeypatch.setattr(cache_module, "read_version", slow)
    first = threading.Thread(target=cache.get, args=("k", lambda: "unused"))
    first.start()
    assert slow.entered.wait(5)
    # While it reads, others are served from the entries they have: no second read.
    assert [cache.get("k", lambda: "unused") for _ in range(50)] == ["v1"] * 50
    assert slow.calls == 1
    # This process writes: the next lookup must not ride on the check that began before.
    cache.invalidate_after_commit()
    monkeypatch.setattr(cache_module, "read_version", lambda: 2)
    assert cache.get("k", lambda: "v2") == "v2"
    slow.release.set()
    first.join(5)


def test_one_token_reload_at_a_time(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(auth, "_cache", {})
    monkeypatch.setattr(auth, "_loading", set())
    monkeypatch.setattr(auth, "_load", lambda _hash: "old identity")
    assert auth._lookup("h") == "old identity"
    auth._cache["h"] = (0.0, "old identity")  # expired
    slow = SlowRead("new identity")
    monkeypatch.setattr(auth, "_load", slow)
    reloading = threading.Thread(target=auth._lookup, args=("h",))
    reloading.start()
    assert slow.entered.wait(5)
    assert [auth._lookup("h") for _ in range(50)] == ["old identity"] * 50
    assert slow.calls == 1
    slow.release.set()
    reloading.join(5)
    assert auth._lookup("h") == "new identity" and slow.calls == 1
    # A token never seen has no older entry to serve: it is loaded.
    assert auth._lookup("other") == "new identity" and slow.calls == 2
