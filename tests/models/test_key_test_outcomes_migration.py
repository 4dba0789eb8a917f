"""0013_key_test_outcomes: the new test outcomes are accepted after the upgrade, and a
downgrade keeps every key (a new outcome becomes "unknown", its message kept)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy.exc import IntegrityError

from tests.security import databases
from webapp.extensions import db
from webapp.models import Credential, Provider

pytestmark = pytest.mark.committed
fresh_app = databases.fresh_app  # an app on an empty database of its own

CREDENTIALS = sa.table(
    "credentials",
    sa.column("id"),
    sa.column("last_test_status"),
    sa.column("last_test_message"),
)


def _key() -> int:
    provider = Provider(slug="acme", display_name="Acme", protocol="openai", credit_multiplier=1)
    db.session.add(provider)
    db.session.flush()
    key = Credential(
        scope="global",
        owner_key="global",
        provider_id=provider.id,
        label="default",
        secret_ciphertext="v1:x",
        secret_hint="abcd",
    )
    db.session.add(key)
    db.session.flush()
    key_id = key.id
    db.session.commit()
    db.session.close()  # no transaction left open: the migrations alter this table
    return key_id


def _status(key_id: int) -> tuple[str, str | None]:
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.select(CREDENTIALS.c.last_test_status, CREDENTIALS.c.last_test_message).where(
                CREDENTIALS.c.id == key_id
            )
        ).one()
    return row[0], row[1]


def _set(key_id: int, status: str, message: str | None = None) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            CREDENTIALS.update()
            .where(CREDENTIALS.c.id == key_id)
            .values(last_test_status=status, last_test_message=message)
        )


def test_new_outcomes_survive_a_downgrade_as_unknown_and_upgrade_again(fresh_app):
    upgrade()
    key_id = _key()
    _set(key_id, "unreachable", "Acme could not be reached (ConnectError).")
    downgrade(revision="0012_usage_over_hold")
    assert _status(key_id) == ("unknown", "Acme could not be reached (ConnectError).")
    with pytest.raises(IntegrityError):  # the old CHECK again
        _set(key_id, "blocked")
    _set(key_id, "invalid", "Acme rejected the key (401).")
    upgrade()
    assert _status(key_id) == ("invalid", "Acme rejected the key (401).")
    _set(key_id, "blocked", "Switchboard will not call 10.0.0.5.")
    assert _status(key_id)[0] == "blocked"
    with pytest.raises(IntegrityError):
        _set(key_id, "nonsense")
