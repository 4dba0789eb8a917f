"""Allowed-model patterns, limits and expiry of a new token."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from webapp.models.base import utcnow
from webapp.services.errors import ValidationError
from webapp.services.tokens import rules


@pytest.mark.parametrize(
    ("pattern", "global_id", "expected"),
    [
        ("openai/*", "openai/gpt-5.4-mini", True),
        ("openai/*", "anthropic/claude-haiku-4-5", False),
        ("openai/gpt-5*", "openai/gpt-5.4-mini", True),
        ("openai/gpt-5.4-mini", "openai/gpt-5.4-mini", True),
        ("openai/gpt-5.4", "openai/gpt-5.4-mini", False),
        ("openai/gpt-5.4-mini", "openai/gpt-5.4-minix", False),
    ],
)
def test_patterns_match_global_ids(pattern, global_id, expected):
    assert rules.matches(pattern, global_id) is expected


def test_no_patterns_means_no_restriction():
    assert rules.model_allowed(None, "openai/gpt-5.4-mini")
    assert not rules.model_allowed(["anthropic/*"], "openai/gpt-5.4-mini")


def test_patterns_are_split_deduplicated_and_checked_against_the_catalog(app):
    assert rules.clean_patterns(" openai/*, openai/*\nanthropic/*") == ["anthropic/*", "openai/*"]
    assert rules.clean_patterns("") is None
    for bad, message in [
        ("openai", "not a model id or pattern"),
        ("*/*", "not a model id or pattern"),
        ("openai/<script>", "not a model id or pattern"),
        ("openai/no-such-model", "matches no enabled model"),
        ("nosuch/*", "matches no enabled model"),
    ]:
        with pytest.raises(ValidationError) as caught:
            rules.clean_patterns(bad)
        assert message in caught.value.errors["allowed_models"]
    with pytest.raises(ValidationError):
        rules.clean_patterns(" ".join(f"openai/m{i}" for i in range(60)))


@pytest.mark.parametrize("value", [0, -1, 1_000_001, True])
def test_request_limits_must_be_positive_and_bounded(value):
    with pytest.raises(ValidationError):
        rules.clean_limit(value, "requests_per_minute", rules.MAX_REQUESTS_PER_MINUTE)


def test_expiry_is_in_the_future_and_within_ten_years():
    assert rules.clean_expiry(None, None) is None
    soon = utcnow() + timedelta(hours=1)
    assert rules.clean_expiry(soon, None) == soon
    for at in (utcnow() - timedelta(seconds=1), utcnow() + timedelta(days=4000)):
        with pytest.raises(ValidationError):
            rules.clean_expiry(at, None)
    with pytest.raises(ValidationError):
        rules.clean_expiry(datetime(2099, 1, 1), None)  # naive: no time zone, no guess
    for days in (0, -3, 3651):
        with pytest.raises(ValidationError) as caught:
            rules.clean_expiry(None, days)
        assert "expires_in_days" in caught.value.errors
    assert rules.clean_expiry(None, 1).utcoffset() == timedelta(0)


def test_names_are_trimmed_and_bounded():
    assert rules.clean_name("  deploy bot ") == "deploy bot"
    for bad in ("", "   ", "x" * 101, "tab\there"):
        with pytest.raises(ValidationError):
            rules.clean_name(bad)
