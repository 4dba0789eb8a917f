"""Two admins saving the same record at the same moment: one 200, one 409, never a 500.

Each round opens the editor in both browsers, then both submit at once (a barrier releases
two threads, each with its own connection), so the saves really overlap in the database.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tests import factories
from tests.conftest import login
from webapp.extensions import db
from webapp.models import AppCounter, ParameterSet
from webapp.services.settings.cache import bump_settings_version

pytestmark = pytest.mark.committed

HX = {"HX-Request": "true"}
ROUNDS = 4
T = TypeVar("T")


@pytest.fixture
def two_admins(app, admin) -> tuple[FlaskClient, FlaskClient]:  # type: ignore[no-untyped-def]
    second = factories.make_user("second-admin@example.com", role="admin")
    return login(app.test_client(), admin.email), login(app.test_client(), second.email)


def concurrently(*work: Callable[[], T]) -> list[T]:
    """Run each callable in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(work))
    results: list[T] = []

    def run(job: Callable[[], T]) -> None:
        barrier.wait()
        results.append(job())

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def at_once(clients: tuple[FlaskClient, FlaskClient], url: str, forms: list[dict]) -> list[int]:
    """Both clients post at the same instant; the status codes, sorted."""
    posts = [
        functools.partial(lambda c, f: c.post(url, headers=HX, data=f).status_code, client, form)
        for client, form in zip(clients, forms, strict=True)
    ]
    return sorted(concurrently(*posts))


def race(
    clients: tuple[FlaskClient, FlaskClient], url: str, form: Callable[[str], dict[str, str]]
) -> None:
    for round_ in range(ROUNDS):
        db.session.rollback()
        statuses = at_once(clients, url, [form(f"A{round_}"), form(f"B{round_}")])
        assert statuses == [200, 409], f"round {round_}: {statuses}"


def provider_form(slug: str) -> Callable[[str], dict[str, str]]:
    def form(name: str) -> dict[str, str]:
        db.session.rollback()
        provider = factories.provider(slug)
        return {
            "display_name": f"{provider.slug} {name}",
            "protocol": provider.protocol,
            "base_url": provider.base_url or "",
            "api_key_env": provider.api_key_env or "",
            "credit_multiplier": "1",
            "enabled": "y",
            "version": str(provider.version),
        }

    return form


def test_two_admins_saving_one_provider_get_200_and_409(two_admins):
    provider = factories.provider("mistral")
    race(two_admins, f"/admin/providers/{provider.id}", provider_form("mistral"))


def test_two_admins_saving_one_model_get_200_and_409(two_admins):
    model = factories.model("mistral/mistral-large-4")

    def form(name: str) -> dict[str, str]:
        db.session.rollback()
        current = factories.model("mistral/mistral-large-4")
        return {
            "display_name": f"Large {name}",
            "category": current.category,
            "context_window": str(current.context_window or ""),
            "enabled": "y",
            "supports_streaming": "y",
            "version": str(current.version),
        }

    race(two_admins, f"/admin/models/{model.id}", form)


def test_two_admins_saving_global_defaults_get_200_and_409(two_admins):
    def form(name: str) -> dict[str, str]:
        db.session.rollback()
        version = db.session.scalar(
            sa.select(ParameterSet.version).where(ParameterSet.scope == "global")
        )
        # Every round saves values that differ from what is stored: two no-op saves both 200.
        temperature = f"0.{int(name[1:]) + 1}{5 if name.startswith('A') else 0}"
        return {"settings-version": str(version or 1), "settings-temperature": temperature}

    race(two_admins, "/admin/defaults", form)


def test_first_saves_on_an_empty_database_do_not_race_on_shared_rows(two_admins):
    """The settings-version counter and the global settings row do not exist yet."""
    db.session.execute(sa.delete(AppCounter))
    db.session.execute(sa.delete(ParameterSet).where(ParameterSet.scope == "global"))
    db.session.commit()
    statuses = at_once(
        two_admins,
        "/admin/defaults",
        [
            {"settings-version": "1", "settings-temperature": "0.3"},
            {"settings-version": "1", "settings-temperature": "0.7"},
        ],
    )
    assert statuses == [200, 409]


def test_first_bumps_of_the_settings_counter_from_two_connections_both_count(app):
    """Every configuration write bumps one shared counter row; when it does not exist yet, two
    writers must not both try to insert it (an IntegrityError for one of them before)."""

    def bump() -> str:
        with app.app_context():
            try:
                bump_settings_version()
                db.session.commit()
            except Exception as exc:  # the failure is the finding
                return type(exc).__name__
            return "ok"

    for _ in range(ROUNDS * 2):
        db.session.execute(sa.delete(AppCounter))
        db.session.commit()
        assert concurrently(bump, bump) == ["ok", "ok"]
        db.session.rollback()
        assert db.session.scalar(sa.select(AppCounter.value)) == 2
