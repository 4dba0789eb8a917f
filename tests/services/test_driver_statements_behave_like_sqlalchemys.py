"""Statements run on the driver's cursor (``side_writes.execute_on_driver``, the call path's
hold and settlement) store what SQLAlchemy would, and fail as SQLAlchemy would: the metering
path tells a duplicate (IntegrityError) from an outage by SQLAlchemy's exception types. And
statement counters (tests, ``bench/service_overhead.py``) see them as any other."""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from tests.querycount import count_statements
from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.models.base import UTCDateTime
from webapp.services import llm, side_writes
from webapp.services.billing import budgets, ledger, reservations


class Colour(enum.Enum):
    RED = "red"


METADATA = sa.MetaData()
TABLE = sa.Table(
    "driver_statement_probe",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(20), unique=True, nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("amount", sa.Numeric(20, 8), nullable=False),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("colour", sa.Enum(Colour, native_enum=False), nullable=False),
    sa.Column("extra", sa.JSON, nullable=True),
    sa.Column("kind", sa.String(10), nullable=False),
    prefixes=["TEMPORARY"],
)
INSERT = (
    sa.insert(TABLE)
    .values(
        key=sa.bindparam("key"),
        at=sa.bindparam("at"),
        amount=sa.bindparam("amount"),
        flag=sa.bindparam("flag"),
        colour=sa.bindparam("colour"),
        extra=sa.bindparam("extra"),
        kind=sa.literal("charge", TABLE.c.kind.type),  # a literal bind, filled in by itself
    )
    .returning(TABLE.c.id, TABLE.c.amount)
)
ROW = {
    "key": "one",
    "at": datetime(2026, 12, 1, 10, 30, tzinfo=UTC),
    "amount": Decimal("0.00004275"),
    "flag": True,
    "colour": Colour.RED,
    "extra": {"budgets": [{"id": 3}]},
}


@pytest.fixture
def connection(app):  # type: ignore[no-untyped-def]
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        pytest.skip("the driver path is PostgreSQL's (SQLite's driver takes positional ones)")
    METADATA.create_all(connection)
    return connection


def test_values_round_trip_as_sqlalchemy_stores_them(connection):  # type: ignore[no-untyped-def]
    returned = side_writes.execute_on_driver(connection, INSERT, ROW)
    assert returned is not None and returned[1] == ROW["amount"]
    stored = connection.execute(sa.select(TABLE).where(TABLE.c.id == returned[0])).one()
    assert stored.at == ROW["at"] and stored.amount == ROW["amount"] and stored.flag is True
    assert stored.colour is Colour.RED and stored.extra == ROW["extra"]
    assert stored.kind == "charge"
    # The same row through SQLAlchemy's execute reads back identically.
    again = connection.execute(INSERT, {**ROW, "key": "two"}).one()
    twin = connection.execute(sa.select(TABLE).where(TABLE.c.id == again[0])).one()
    assert {**twin._mapping, "id": 0, "key": ""} == {**stored._mapping, "id": 0, "key": ""}


def test_failures_are_sqlalchemys_exceptions(connection):  # type: ignore[no-untyped-def]
    side_writes.execute_on_driver(connection, INSERT, ROW)
    with pytest.raises(IntegrityError) as duplicate, connection.begin_nested():
        side_writes.execute_on_driver(connection, INSERT, ROW)
    assert getattr(duplicate.value.orig, "sqlstate", None) == "23505"
    with pytest.raises(DataError) as divided, connection.begin_nested():
        side_writes.execute_on_driver(connection, sa.select(sa.literal(1) / 0), {})
    assert getattr(divided.value.orig, "sqlstate", None) == "22012"


def test_a_connection_the_database_dropped_is_not_reused(connection):  # type: ignore[no-untyped-def]
    own = db.engine.connect()
    try:
        with pytest.raises(OperationalError) as gone:
            side_writes.execute_on_driver(
                own, sa.select(sa.func.pg_terminate_backend(sa.func.pg_backend_pid())), {}
            )
        assert gone.value.connection_invalidated and own.invalidated
    finally:
        own.close()


def test_the_settlement_of_a_typical_call_keeps_psycopgs_parsed_form():
    """psycopg parses a statement's placeholders once only for statements of at most 4096
    bytes and 50 parameters; the settlement of an org call with a feature, a key, credits
    and two budgets (the user's and the org's) stays within both, literals written inline."""
    # Every column but the id and those only an error or body logging fills.
    rare = {"id", "error_type", "error_message", "cache_write_tokens", "dropped_params"}
    rare |= {"request_body", "response_body"}
    columns = [c.name for c in UsageRecord.__table__.c if c.name not in rare]
    statement = reservations._settle_statement(tuple(columns), True, True, True, (True, True))
    prepared = side_writes.driver_sql(statement, pg_psycopg.dialect())
    names = set(re.findall(r"%\((\w+)\)s", prepared.sql))
    assert len(prepared.sql.encode()) <= 4096 and len(names) <= 50
    assert not prepared.defaults  # every literal is in the SQL


def test_single_statements_run_in_autocommit_on_a_connection_the_pool_gets_back_as_it_was(
    connection,  # type: ignore[no-untyped-def]
):
    """``own_transaction(single_statements=True)`` on PostgreSQL (tests replace
    ``own_transaction`` itself, so its autocommit block is tried here directly)."""
    with side_writes._autocommit(db.engine.connect()) as own:
        driver = own.connection.driver_connection
        assert driver is not None and driver.autocommit
        side_writes.execute_on_driver(own, sa.select(sa.literal(1)), {})
        assert driver.info.transaction_status.name == "IDLE"  # committed: no open transaction
    assert not driver.autocommit  # back in the pool as every other connection is
    with pytest.raises(DataError), side_writes._autocommit(db.engine.connect()) as own:
        driver = own.connection.driver_connection
        side_writes.execute_on_driver(own, sa.select(sa.literal(1) / 0), {})
    assert driver is not None and not driver.autocommit
    with side_writes._autocommit(db.engine.connect()) as own:
        with pytest.raises(OperationalError):
            side_writes.execute_on_driver(
                own, sa.select(sa.func.pg_terminate_backend(sa.func.pg_backend_pid())), {}
            )
        assert own.invalidated  # a dropped connection is thrown away: leaving needs no reset


def test_statement_counters_see_statements_run_on_the_driver(connection):  # type: ignore[no-untyped-def]
    with count_statements() as counted:
        side_writes.execute_on_driver(connection, INSERT, ROW)
    (statement,) = counted.statements
    assert statement.startswith("INSERT INTO driver_statement_probe")


def test_a_charged_call_counts_its_hold_and_its_settlement(wired, admin, member):
    """On either database (PostgreSQL runs both on the driver's cursor)."""
    ledger.post_entry(admin, ledger.Owner("user", member.id), Decimal(5), kind="grant", note=None)
    budgets.create_budget(
        admin,
        budgets.BudgetOwner("user", member.id),
        budgets.BudgetInput("monthly", "usd", "100", hard=True),
    )
    with count_statements() as counted:
        llm.complete([{"role": "user", "content": "Hi"}], context=llm.CallContext(user=member))
    assert any("INSERT INTO reservations" in s for s in counted.statements)
    assert any("INSERT INTO usage_records" in s for s in counted.statements)


def test_the_settlement_statement_is_built_once_per_shape():
    """``driver_sql`` caches by statement: a statement built anew each call would be compiled
    each call (about 4 ms of SQLAlchemy compilation on a gateway call)."""
    columns = ("created_at", "request_id", "status")
    first = reservations._settle_statement(columns, True, True, True, (True, False))
    assert reservations._settle_statement(columns, True, True, True, (True, False)) is first
