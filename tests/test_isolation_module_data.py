"""Data a module's tests share (``module_app``): built once, seen by every test, and each
test's own changes undone before the next."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories, isolation
from webapp.extensions import db
from webapp.models import Organization, User

BUILT: list[int] = []


@pytest.fixture(scope="module")
def shared(module_app: Flask) -> dict[str, int]:
    BUILT.append(1)
    module_app.config["SHARED_MARK"] = "kept for the module"
    return {"org": factories.make_org("shared").id}


@pytest.mark.parametrize("turn", [1, 2, 3])
def test_each_test_sees_the_shared_data_and_none_of_the_previous_tests(app, shared, turn):
    assert BUILT == [1]  # built once for the module
    assert db.session.get(Organization, shared["org"]).slug == "shared"
    assert db.session.scalars(sa.select(User.email)).all() == []
    assert app.config["SHARED_MARK"] == "kept for the module"
    factories.make_user(f"turn{turn}@example.com")
    app.config["SHARED_MARK"] = "changed by the test"  # put back after it


def test_requests_see_the_shared_data(admin_client, shared):
    body = admin_client.get(f"/admin/orgs/{shared['org']}").get_data(as_text=True)
    assert "Shared" in body


@pytest.mark.committed
def test_a_committed_test_beside_shared_data_fails_clearly(shared, request):
    with pytest.raises(pytest.fail.Exception, match="put this test in another module"):
        request.getfixturevalue("app")


def test_the_shared_transaction_is_visible(shared):
    assert isolation.in_shared_transaction()
