"""The SQL read model on SQLite and PostgreSQL: what is particular to SQL (the behaviour
every read model has is in test_read_model_contract.py)."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import psycopg
import pytest

from cli.bootstrap import open_database
from domain.status import ImageStatus
from infra.errors import DependencyUnavailable
from infra.settings import Settings
from projections.rows import ImageRow
from projections.sql import SqlReadModel
from projections.tracking import SqlTracking
from tests.integration.test_read_model_contract import row

if TYPE_CHECKING:
    from tests.integration.backends import Backend

pytest_plugins = ["tests.integration.backends"]  # the `backend` fixtures

DRIVER_ERRORS = (sqlite3.Error, psycopg.Error)


@pytest.fixture
def model(backend: Backend) -> SqlReadModel:
    return SqlReadModel(backend.database())


def test_a_failed_save_changes_no_row(model: SqlReadModel) -> None:
    kept = row(1)
    model.save([kept])
    changed = msgspec.structs.replace(kept, status=ImageStatus.PROCESSING, version=2)
    broken = row(2, file_name=None)  # violates NOT NULL

    with pytest.raises(DRIVER_ERRORS):
        model.save([changed, broken])

    assert model.get(kept.id) == kept
    assert model.get(broken.id) is None


def test_statements_take_question_marks_and_a_literal_percent_on_both_databases(
    backend: Backend,
) -> None:
    with backend.database().transaction() as cursor:
        cursor.execute("SELECT CAST(? AS TEXT) || '%', '100%'", ["50"])
        assert tuple(cursor.fetchone()) == ("50%", "100%")
        cursor.execute("SELECT '100%'")  # no parameters: sent as written
        assert tuple(cursor.fetchone()) == ("100%",)


def test_an_unusable_data_dir_is_reported(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the data dir should be")

    with pytest.raises(DependencyUnavailable):
        open_database(Settings(data_dir=tmp_path / "taken"))


def test_writers_on_many_threads_at_once(backend: Backend) -> None:
    database = backend.database()
    model, tracking = SqlReadModel(database), SqlTracking(database)
    rows = [row(position) for position in range(1, 41)]

    def save(r: ImageRow) -> None:
        model.save([r])
        tracking.set_position(f"worker-{r.created_position}", r.created_position)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(save, rows))

    assert len(model.get_many(r.id for r in rows)) == 40
    assert [tracking.position(f"worker-{n}") for n in range(1, 41)] == list(range(1, 41))
