"""/admin/config: export downloads, and an import that previews before it applies."""

from __future__ import annotations

import io
import json

import sqlalchemy as sa
import yaml

from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent, Organization
from webapp.services.config import export as config_export
from webapp.services.config.document import MAX_DOCUMENT_BYTES, dump_document

HX = {"HX-Request": "true"}
URL = "/admin/config/import"


def _document(**extra: object) -> str:
    document = config_export.export_document()
    document.update(extra)
    return dump_document(document, "yaml")


def test_page_offers_both_downloads_and_the_import_form(admin_client):
    response = admin_client.get("/admin/config")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in body
    assert "/admin/config/export?format=yaml" in body and "/admin/config/export?format=json" in body
    assert 'id="config-import"' in body and 'name="apply" value="1"' in body
    assert 'enctype="multipart/form-data"' in body


def test_downloads_are_attachments_with_the_right_type(admin_client):
    response = admin_client.get("/admin/config/export?format=json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Content-Disposition"].endswith('.json"')
    assert len(json.loads(response.get_data(as_text=True))["providers"]) == 10
    response = admin_client.get("/admin/config/export?format=yaml")
    assert response.headers["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(response.get_data(as_text=True))["switchboard_config"] == 1
    assert admin_client.get("/admin/config/export?format=xml").status_code == 400


def test_download_never_holds_a_key(admin_client):
    factories.global_key("openai", "sk-page-export-SECRET-9f8e7d")
    body = admin_client.get("/admin/config/export?format=yaml").get_data(as_text=True)
    assert "SECRET-9f8e7d" not in body and "9f8e7d" not in body and "secret_hint" not in body


def test_dry_run_shows_the_plan_and_writes_nothing(admin_client):
    text = _document(orgs=[{"slug": "beta", "name": "Beta <b>Co</b>"}])
    response = admin_client.post(URL, headers=HX, data={"document": text, "apply": "0"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert 'id="config-import"' in body
    assert "Dry run: 1 to create, 0 to update" in body and "Nothing has been written" in body
    assert "organization <code>beta</code>" in body and "&lt;b&gt;Co&lt;/b&gt;" in body
    assert "left alone" in body
    assert db.session.scalar(sa.select(Organization)) is None


def test_plain_dry_run_renders_the_full_page(admin_client):
    response = admin_client.post(URL, data={"document": _document(), "apply": "0"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in body
    assert "0 to create, 0 to update" in body


def test_invalid_document_is_422_with_errors_and_writes_nothing(admin_client):
    text = _document(orgs=[{"slug": "beta", "name": "Beta", "settings": {"temperature": 9}}])
    for apply in ("0", "1"):
        response = admin_client.post(URL, headers=HX, data={"document": text, "apply": apply})
        body = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "orgs[0].settings.temperature" in body and "nothing was written" in body
    assert db.session.scalar(sa.select(Organization)) is None


def test_unreadable_or_missing_document_is_422_at_the_field(admin_client):
    response = admin_client.post(URL, headers=HX, data={"document": "a: [1", "apply": "0"})
    assert response.status_code == 422
    assert "Not valid YAML" in response.get_data(as_text=True)
    response = admin_client.post(URL, headers=HX, data={"apply": "0"})
    assert response.status_code == 422
    assert "Paste a document or choose a file." in response.get_data(as_text=True)
    response = admin_client.post(URL, headers=HX, data={"document": "x: 1", "format": "toml"})
    assert response.status_code == 422


def test_uploaded_file_is_previewed_and_kept_for_apply(admin_client):
    text = _document(orgs=[{"slug": "upl", "name": "Uploaded"}])
    data = {"upload": (io.BytesIO(text.encode()), "config.yaml"), "apply": "0"}
    response = admin_client.post(URL, headers=HX, data=data, content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "organization <code>upl</code>" in body
    assert "switchboard_config: 1" in body  # the text is now in the form, for Apply


def test_oversized_upload_is_refused_with_a_message(admin_client):
    big = b"# padding\n" * (MAX_DOCUMENT_BYTES // 10 + 1)
    data = {"upload": (io.BytesIO(big), "big.yaml"), "apply": "0"}
    response = admin_client.post(URL, headers=HX, data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "larger than 2 MB" in response.get_data(as_text=True)


def test_apply_writes_and_notifies(admin_client, admin):
    text = _document(orgs=[{"slug": "beta", "name": "Beta"}])
    response = admin_client.post(URL, headers=HX, data={"document": text, "apply": "1"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Imported: 1 created, 0 updated" in body
    notice = json.loads(response.headers["HX-Trigger"])["notice"]
    assert notice["level"] == "success" and "1 created" in notice["message"]
    assert db.session.scalar(sa.select(Organization.name)) == "Beta"
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "import"))
    assert event.actor_id == admin.id


def test_plain_apply_redirects_with_a_flash(admin_client):
    text = _document(orgs=[{"slug": "beta", "name": "Beta"}])
    response = admin_client.post(URL, data={"document": text, "apply": "1"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/config")
    page = admin_client.get("/admin/config").get_data(as_text=True)
    assert "Imported: 1 created" in page


def test_members_are_forbidden(member_client):
    assert member_client.get("/admin/config").status_code == 403
    assert member_client.get("/admin/config/export?format=json").status_code == 403
    response = member_client.post(URL, data={"document": _document(), "apply": "1"})
    assert response.status_code == 403
