"""Gateway tests: every test starts with an empty token cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from webapp.services.tokens import auth


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    auth.clear_cache()
    yield
    auth.clear_cache()


@pytest.fixture(autouse=True)
def _one_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rate-limit windows are calendar minutes: a test must not straddle two."""
    from webapp.gateway import rate_limits

    monkeypatch.setattr(rate_limits, "clock", lambda: 1_800_000_030.0)
