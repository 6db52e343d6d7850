"""Switching a new SQLite database to WAL waits for a lock another process holds."""

from __future__ import annotations

import sqlite3

import pytest

from neuroplast.registry._database import _switch_to_wal


class _BusyCursor:
    """Answers "database is locked" to the first ``busy`` statements, then runs them."""

    def __init__(self, busy: int, message: str = "database is locked") -> None:
        self.busy, self.message, self.executed = busy, message, 0

    def execute(self, sql: str) -> None:
        assert sql == "PRAGMA journal_mode=WAL"
        if self.busy:
            self.busy -= 1
            raise sqlite3.OperationalError(self.message)
        self.executed += 1


def test_a_locked_switch_is_retried_until_it_succeeds() -> None:
    cursor = _BusyCursor(busy=3)
    _switch_to_wal(cursor, timeout=5)
    assert cursor.executed == 1 and cursor.busy == 0


def test_a_lock_that_outlasts_the_timeout_is_raised() -> None:
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _switch_to_wal(_BusyCursor(busy=10_000), timeout=0.05)


def test_other_errors_are_not_retried() -> None:
    cursor = _BusyCursor(busy=1, message="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _switch_to_wal(cursor, timeout=5)
    assert cursor.busy == 0 and cursor.executed == 0
