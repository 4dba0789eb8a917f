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
