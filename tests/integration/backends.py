"""Run a test on both databases: the `backend` fixture, on SQLite and on PostgreSQL.

Name this module in a test module's `pytest_plugins` to use the fixtures. Each
test gets a database of its own, in a temporary data dir.

- `backend`: migrated, with helpers that open the event store and the database
  and close them when the test ends. The migrations run once per test session:
  a SQLite test gets a copy of a migrated file, a PostgreSQL test a clone of a
  migrated template database (emptied after the test for the next one).
- `blank_settings`: Settings for a fresh database with no tables yet (a new
  SQLite file, or a new PostgreSQL database dropped afterwards).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.bootstrap import open_database
from commands.application import ImageCommands
from infra.event_store import open_image_commands
from infra.migrate import upgrade
from infra.settings import Settings
from projections.sql import Database
from tests.servers import PostgresClones, postgres_database

BACKENDS = ["sqlite", "postgres"]


class Backend:
    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        self._resources = contextlib.ExitStack()

    def commands(self) -> ImageCommands:
        """A new ImageCommands on this backend's event store."""
        app = open_image_commands(self.settings)
        self._resources.callback(app.close)
        return app

    def database(self) -> Database:
        """A new connection (pool) to this backend's database."""
        database = open_database(self.settings)
        self._resources.callback(database.close)
        return database

    def close(self) -> None:
        self._resources.close()


@contextlib.contextmanager
def fresh_settings(name: str, data_dir: Path) -> Iterator[Settings]:
    """Settings naming a fresh, empty database of the given backend."""
    if name == "sqlite":
        yield Settings(data_dir=data_dir)
        return
    with postgres_database() as url:
        yield Settings(data_dir=data_dir, database_url=url)


@pytest.fixture(params=BACKENDS)
def blank_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    with fresh_settings(request.param, tmp_path / "data") as settings:
        yield settings


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once, copied for each test."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("migrated-sqlite"))
    upgrade(settings)
    return settings.sqlite_path


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[PostgresClones]:
    """Clones of a PostgreSQL database migrated once."""
    clones = PostgresClones(lambda url: upgrade(Settings(database_url=url)))
    try:
        yield clones
    finally:
        clones.close()


@contextlib.contextmanager
def migrated_settings(
    name: str, data_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """Settings naming a database of the given backend, migrated to the newest revision."""
    if name == "sqlite":
        settings = Settings(data_dir=data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), settings.sqlite_path)
        yield settings
        return
    clones: PostgresClones = request.getfixturevalue("migrated_postgres")
    with clones.database() as url:
        yield Settings(data_dir=data_dir, database_url=url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with migrated_settings(request.param, tmp_path / "data", request) as settings:
        chosen = Backend(request.param, settings)
        try:
            yield chosen
        finally:
            chosen.close()  # before the database is dropped
