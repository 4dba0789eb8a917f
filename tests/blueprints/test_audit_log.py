"""/admin/audit: events newest first, filters, readable diffs, and never a secret."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.services.accounts import users
from webapp.services.audit import events as audit
from webapp.services.audit import log as audit_log
from webapp.services.credentials import storage as credentials

HX = {"HX-Request": "true"}
SECRET = "sk-audit-SECRET-value-7Qx1"


def _event(
    when: datetime | None = None,
    *,
    action: str = "update",
    target_type: str = "provider",
    actor: str = "someone@example.com",
    label: str | None = "OpenAI",
    target_id: str | None = "1",
    diff: Any = None,
) -> AuditEvent:
    event = AuditEvent(
        created_at=when or datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=label,
        actor_label=actor,
        diff=diff,
    )
    db.session.add(event)
    db.session.commit()
    return event


def _rows(body: str) -> list[str]:
    """The event rows of a page or partial, in order (each holds a nested diff table)."""
    rows = []
    for part in body.split('<tr id="event-')[1:]:
        depth = 1
        for tag in re.finditer(r"<tr[\s>]|</tr>", part):
            depth += -1 if tag.group() == "</tr>" else 1
            if depth == 0:
                rows.append(part[: tag.start()])
                break
    return rows


def test_page_shows_events_newest_first_with_a_diff_table(admin_client):
    _event(datetime(2026, 1, 1, tzinfo=UTC), label="Oldest")
    _event(
        datetime(2026, 1, 2, tzinfo=UTC),
        label="Newest",
        diff={
            "enabled": {"before": True, "after": False},
            "base_url": {"before": None, "after": "https://x.example/v1"},
        },
    )
    response = admin_client.get("/admin/audit?target_type=provider")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    newest, oldest = _rows(body)
    assert "Newest" in newest and "2026-01-02 00:00 UTC" in newest and "Oldest" in oldest
    assert "someone@example.com" in newest and "update" in newest
    assert '<th scope="row">enabled</th><td><code>yes</code></td><td><code>no</code></td>' in newest
    # URLs may wrap at their slashes and dots, never inside a word.
    assert "https://<wbr>x.<wbr>example/<wbr>v1" in newest


def test_partial_for_htmx(admin_client, admin):
    response = admin_client.get("/admin/audit", headers=HX)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="audit-table"') and "<html" not in body
    assert "admin@example.com" in body  # the admin's own "create user" event


def test_secret_markers_are_badges_and_the_secret_never_appears(admin_client, admin):
    key = factories.global_key("openai", SECRET)
    credentials.update_credential(
        admin, key, credentials.CredentialInput(label="default", secret=SECRET + "-new"), None
    )
    credentials.delete_credential(admin, key)
    body = admin_client.get("/admin/audit?target_type=credential").get_data(as_text=True)
    assert SECRET not in body and "7Qx1" not in body
    for marker in ("[set]", "[changed]", "[removed]"):
        assert f'<span class="badge badge-warn">{marker}</span>' in body


def test_user_creation_shows_the_password_only_as_set(admin_client, admin):
    users.create_user("new@example.com", "a long enough password", actor=admin)
    body = admin_client.get("/admin/audit?target=new@example.com", headers=HX).get_data(
        as_text=True
    )
    (row,) = _rows(body)
    assert '<th scope="row">email</th>' in row and "<code>new@example.com</code>" in row
    assert '<th scope="row">password</th>' in row and "[set]" in row
    assert "a long enough password" not in body


def test_a_secret_stored_by_mistake_is_hidden(admin_client):
    _event(diff={"password_hash": "pbkdf2:sha256:leak", "extra": {"api_key": "sk-leak-1234"}})
    _event(diff={"secret": {"before": "sk-old-leak", "after": "sk-new-leak"}})
    body = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "leak" not in body and body.count("[hidden]") == 4


def test_labels_and_values_are_escaped(admin_client):
    _event(label="<script>alert(1)</script>", diff={"name": "<b>bold</b>"})
    body = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    assert "<b>bold" not in body and "&lt;b&gt;bold" in body


def test_filter_by_actor_email(admin_client, admin, member):
    users.set_mode(member, "byok", actor=member)
    body = admin_client.get("/admin/audit?actor=MEMBER@", headers=HX).get_data(as_text=True)
    (row,) = _rows(body)
    assert "member@example.com" in row and "byok" in row


def test_filter_by_target_type_action_and_target(admin_client, member):
    _event(target_type="model", action="create", label="gpt-x", target_id="77")
    _event(target_type="model", action="update", label="gpt-y", target_id="78")
    body = admin_client.get("/admin/audit?target_type=model", headers=HX).get_data(as_text=True)
    assert len(_rows(body)) == 2
    body = admin_client.get("/admin/audit?target_type=model&action=create", headers=HX)
    assert [("gpt-x" in r) for r in _rows(body.get_data(as_text=True))] == [True]
    by_id = admin_client.get("/admin/audit?target=78", headers=HX).get_data(as_text=True)
    assert [("gpt-y" in r) for r in _rows(by_id)] == [True]
    by_label = admin_client.get("/admin/audit?target=GPT-", headers=HX).get_data(as_text=True)
    assert len(_rows(by_label)) == 2


def test_target_type_choices_are_the_types_present(admin_client, admin):
    _event(target_type="feature")
    body = admin_client.get("/admin/audit").get_data(as_text=True)
    select = body.split('name="target_type"')[1].split("</select>")[0]
    assert '<option value="feature">' in select and '<option value="user">' in select
    assert 'value="credential"' not in select


def test_dates_are_inclusive_days_in_utc(admin_client):
    _event(datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC), label="before")
    _event(datetime(2026, 3, 10, 0, 0, tzinfo=UTC), label="first-second")
    _event(datetime(2026, 3, 11, 23, 59, 59, tzinfo=UTC), label="last-second")
    _event(datetime(2026, 3, 12, 0, 0, tzinfo=UTC), label="after")
    body = admin_client.get(
        "/admin/audit?target_type=provider&since=2026-03-10&until=2026-03-11", headers=HX
    ).get_data(as_text=True)
    assert [r.split('<span class="badge">provider</span>')[1].split()[0] for r in _rows(body)] == [
        "last-second",
        "first-second",
    ]
    only_since = admin_client.get("/admin/audit?target_type=provider&since=2026-03-12")
    assert len(_rows(only_since.get_data(as_text=True))) == 1
    far = admin_client.get("/admin/audit?target_type=provider&until=9999-12-31")
    assert far.status_code == 200 and len(_rows(far.get_data(as_text=True))) == 4


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("since=yesterday", "since", "Not a valid date value"),
        ("until=2026-02-30", "until", "Not a valid date value"),
        ("since=2026-03-10&until=2026-03-01", "until", "The end date is before the start date."),
        ("target_type=nonsense", "target_type", "Not a valid choice"),
        ("action=explode", "action", "Not a valid choice"),
        ("before=0", "before", "Number must be at least 1"),
        ("after=x", "after", "Not a valid integer value"),
        ("actor=a%01b", "actor", "Remove the control characters."),
        ("target=%01", "target", "Remove the control characters."),
    ],
)
def test_bad_filters_are_422_at_the_field(admin_client, admin, query, field, message):
    response = admin_client.get(f"/admin/audit?{query}")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and message in body
    if field not in ("before", "after"):  # the page cursors are not visible fields
        assert f'id="{field}-error" class="field-error">{message}' in body
    partial = admin_client.get(f"/admin/audit?{query}", headers=HX)
    assert partial.status_code == 422 and message in partial.get_data(as_text=True)


def test_pages_of_fifty_newest_first_by_keyset(admin_client):
    events = [
        _event(datetime(2026, 1, 1, 0, n, tzinfo=UTC), label=f"event-{n:02d}") for n in range(55)
    ]
    _event(datetime(2026, 1, 1, 0, 54, tzinfo=UTC), label="same-second")  # ties break by id
    body = admin_client.get("/admin/audit?target_type=provider").get_data(as_text=True)
    assert len(_rows(body)) == 50 and "same-second" in _rows(body)[0]
    assert "event-54" in _rows(body)[1] and "Newer" not in body
    older = events[6].id  # the 50th row
    assert f'href="/admin/audit?before={older}&amp;target_type=provider"' in body
    body = admin_client.get(f"/admin/audit?target_type=provider&before={older}").get_data(
        as_text=True
    )
    assert len(_rows(body)) == 6 and "event-05" in _rows(body)[0] and "event-00" in _rows(body)[-1]
    assert "Older" not in body
    assert f'href="/admin/audit?after={events[5].id}&amp;target_type=provider"' in body
    newer = admin_client.get(f"/admin/audit?target_type=provider&after={events[5].id}")
    rows = _rows(newer.get_data(as_text=True))
    assert len(rows) == 50 and "same-second" in rows[0] and "event-06" in rows[-1]


def test_one_event_page(admin_client):
    event = _event(diff={"secret": audit.CHANGED}, label="OpenAI key")
    body = admin_client.get(f"/admin/audit/{event.id}").get_data(as_text=True)
    assert "OpenAI key" in body and "[changed]" in body and "someone@example.com" in body
    assert admin_client.get("/admin/audit/999999").status_code == 404


def test_members_get_403(member_client):
    event = _event()
    for url in ("/admin/audit", f"/admin/audit/{event.id}", "/admin/audit?since=x"):
        assert member_client.get(url).status_code == 403
        assert member_client.get(url, headers=HX).status_code == 403


def test_describe_diff_handles_every_shape():
    rows = audit_log.describe_diff(
        {"role": {"before": "member", "after": "admin"}, "secret": "[removed]", "tags": ["a", 1]}
    )
    assert [(r.field, r.before.text, r.after.text, r.after.marker) for r in rows] == [
        ("role", "member", "admin", False),
        ("secret", "", "[removed]", True),
        ("tags", "", '["a", 1]', False),
    ]
    assert audit_log.describe_diff(None) == []
    assert [r.after.text for r in audit_log.describe_diff(["odd"])] == ['["odd"]']


def test_target_name_search_is_a_prefix_and_not_a_pattern(admin_client):
    _event(label="a_b key")
    _event(label="axb key")
    _event(label="the a_b key")
    rows = _rows(admin_client.get("/admin/audit?target=A_B", headers=HX).get_data(as_text=True))
    assert len(rows) == 1 and "a_b key" in rows[0]


def test_successor_bounds_every_string_with_the_prefix() -> None:
    assert audit_log._successor("abc") == "abd"
    assert audit_log._successor("a\U0010ffff") == "b"
    assert audit_log._successor("\ud7ff") == "\ue000"  # past the surrogates
    assert audit_log._successor("\U0010ffff") is None
    after = audit_log._successor("abc") or ""
    for text in ("abc", "abc\U0010ffff", "abcz" * 10, "abc\x00"):
        assert "abc" <= text < after
    assert after <= "abd"


@pytest.mark.parametrize("many", [False, True], ids=["few matches", "most of the log"])
def test_a_target_name_prefix_finds_the_same_events_either_way(admin_client, monkeypatch, many):
    """SQLite looks a rare prefix up by name and a common one by time (PREFIX_PROBE): the
    events found, their order and the case-insensitive match are the same."""
    monkeypatch.setattr(audit_log, "PREFIX_PROBE", 2 if many else 1000)
    names = ["Alpha one", "alpha two", "ALPHABET", "alp%ha", "beta", "Alphz", None]
    for i, name in enumerate(names):
        _event(datetime(2026, 3, 10, 12, i, tzinfo=UTC), label=name, target_id=str(100 + i))
    _event(datetime(2026, 3, 10, 13, 0, tzinfo=UTC), label="other", target_id="alpha")
    page = audit_log.list_events(audit_log.AuditFilter(target="alpha"))
    found = [(e.event.target_label, e.event.target_id) for e in page.entries]
    assert found == [
        ("other", "alpha"),  # the exact id
        ("ALPHABET", "102"),
        ("alpha two", "101"),
        ("Alpha one", "100"),
    ]
    body = admin_client.get("/admin/audit?target=ALP", headers=HX).get_data(as_text=True)
    assert len(_rows(body)) == 5  # "alp%ha" too: % is a character here, not a pattern


def test_on_sqlite_the_target_name_filter_reads_an_index(app) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner picks its index itself (ix_audit_events_label_prefix)")
    query = audit_log._filtered(audit_log.AuditFilter(target="target 42"))
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(51)
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = " ".join(
        str(row[-1]) for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))
    )
    assert "ix_audit_events_label_lower" in plan and "ix_audit_events_target_id" in plan, plan
