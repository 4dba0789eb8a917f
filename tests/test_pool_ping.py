"""Pooled server connections are pinged before use only after sitting idle: a connection
used a moment ago is trusted, an idle one that no longer answers is replaced."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy.exc import DisconnectionError

from webapp import extensions


class FakeConnection:
    """A server connection (psycopg-like: it has ``autocommit``)."""

    def __init__(self, alive: bool = True) -> None:
        self.alive, self.autocommit, self.pings = alive, False, 0
        self.autocommit_during_ping: bool | None = None

    def cursor(self) -> FakeConnection:
        return self

    def execute(self, _sql: str) -> None:
        self.pings += 1
        self.autocommit_during_ping = self.autocommit
        if not self.alive:
            raise OSError("server closed the connection unexpectedly")

    def close(self) -> None:
        pass


class Record:
    def __init__(self, returned_ago: float | None) -> None:
        self.info: dict[str, Any] = {}
        if returned_ago is not None:
            self.info[extensions._RETURNED] = time.monotonic() - returned_ago


def test_a_connection_used_a_moment_ago_is_not_pinged():
    connection = FakeConnection(alive=False)
    extensions._ping_if_idle(connection, Record(returned_ago=0.01), None)
    assert connection.pings == 0


def test_a_new_connection_is_not_pinged():
    connection = FakeConnection()
    extensions._ping_if_idle(connection, Record(returned_ago=None), None)
    assert connection.pings == 0


def test_an_idle_connection_is_pinged_outside_any_transaction():
    connection = FakeConnection()
    extensions._ping_if_idle(connection, Record(returned_ago=30), None)
    assert connection.pings == 1
    assert connection.autocommit_during_ping is True and connection.autocommit is False


def test_an_idle_connection_that_no_longer_answers_is_replaced():
    with pytest.raises(DisconnectionError):
        extensions._ping_if_idle(FakeConnection(alive=False), Record(returned_ago=30), None)


def test_the_pool_notes_when_a_connection_comes_back():
    record = Record(returned_ago=None)
    extensions._note_return(FakeConnection(), record)
    assert time.monotonic() - record.info[extensions._RETURNED] < 1
