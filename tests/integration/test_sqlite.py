"""SQLite under a churn of threads: connections follow the threads that are alive."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.sqlite import SqliteDatabase

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc"
)


def open_handles(path: Path) -> int:
    """File descriptors of this process open on the database file itself."""
    fds = Path("/proc/self/fd")
    count = 0
    for fd in os.listdir(fds):
        with contextlib.suppress(OSError):  # closed between listing and reading
            count += Path(os.readlink(fds / fd)) == path
    return count


def use(database: SqliteDatabase) -> None:
    with database.transaction() as cursor:
        cursor.execute("INSERT INTO visits DEFAULT VALUES")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[SqliteDatabase]:
    database = SqliteDatabase.open(tmp_path / "churn.sqlite3")
    with database.transaction() as cursor:
        cursor.execute("CREATE TABLE visits (id INTEGER PRIMARY KEY)")
    yield database
    database.close()


def test_threads_that_came_and_went_leave_no_connection_behind(
    database: SqliteDatabase,
) -> None:
    for _burst in range(20):
        burst = [threading.Thread(target=use, args=(database,)) for _ in range(5)]
        for thread in burst:
            thread.start()
        for thread in burst:
            thread.join()

    # This thread's connection, the last burst's five, and nothing older.
    assert open_handles(database.path.resolve()) <= 6
    with database.transaction(readonly=True) as cursor:
        assert cursor.execute("SELECT count(*) FROM visits").fetchone() == (100,)
    database.close()
    assert open_handles(database.path.resolve()) == 0
