"""services/config/document.py: reading a document (YAML or JSON) safely — clear errors for
what cannot be read, a size limit, dates kept as text."""

from __future__ import annotations

import pytest

from webapp.services.config.document import MAX_DOCUMENT_BYTES, DocumentError, parse_document


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("providers: [\n  - slug", "Not valid YAML"),
        ('{"switchboard_config": 1,', "Not valid JSON"),
        ("a: &x [1]\nb: *x\n", "aliases"),
        ("switchboard_config: 1\nblob: !!binary aGk=\n", "bytes"),
        ("[" * 5000 + "]" * 5000, "nested"),
        ('{"switchboard_config": 1, "settings": {"seed": NaN}}', "NaN and infinity"),
        ("settings: {temperature: .inf}", "NaN and infinity"),
        ('{"name": "a\\u0000b"}', "NUL"),
    ],
)
def test_unreadable_documents_get_a_clear_error(app, text, fragment):
    with pytest.raises(DocumentError) as caught:
        parse_document(text)
    assert fragment in caught.value.errors["document"]


def test_oversized_documents_are_refused():
    big = b"#" * (MAX_DOCUMENT_BYTES + 1)
    with pytest.raises(DocumentError, match="larger than 2 MB"):
        parse_document(big)


def test_yaml_dates_stay_text(app):
    data = parse_document("switchboard_config: 1\nnote: 2024-01-01\n")
    assert data["note"] == "2024-01-01"
