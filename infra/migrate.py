"""Running the Alembic migrations from code, against the database Settings name.

There is no alembic.ini: the configuration is built here, and the connection is
handed to migrations/env.py through `Config.attributes`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, make_url

import migrations
from infra.errors import DependencyUnavailable
from infra.settings import Settings

CONNECT_TIMEOUT_SECONDS = 5

# Alembic keeps the running migration's context in module globals.
_one_at_a_time = threading.Lock()


def sqlalchemy_url(settings: Settings) -> URL:
    """The SQLAlchemy URL of the configured database (psycopg 3 for PostgreSQL)."""
    if settings.database_url is None:
        return URL.create("sqlite", database=str(settings.sqlite_path))
    url = make_url(settings.database_url.replace("postgres://", "postgresql://", 1))
    return url.set(drivername="postgresql+psycopg")


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database up to `revision`; a no-op when it is already there."""
    with _one_at_a_time, _connection(settings) as connection:
        command.upgrade(_config(connection), revision)
        connection.commit()


def current_revision(settings: Settings) -> str | None:
    """The revision the database is at; None before the first migration."""
    with _connection(settings) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows of."""
    return ScriptDirectory.from_config(_config(None)).get_current_head()


def _config(connection: sa.Connection | None) -> Config:
    config = Config(attributes={"connection": connection})
    config.set_main_option("script_location", str(migrations.DIRECTORY))
    return config


@contextlib.contextmanager
def _connection(settings: Settings) -> Iterator[sa.Connection]:
    dependency = "postgres" if settings.uses_postgres else "sqlite"
    engine = _engine(settings)
    try:
        with engine.connect() as connection:
            yield connection
    except sa.exc.OperationalError as e:
        raise DependencyUnavailable(dependency, str(e.orig)) from e
    finally:
        engine.dispose()


def _engine(settings: Settings) -> sa.Engine:
    url = sqlalchemy_url(settings)
    if settings.database_url is not None:
        return sa.create_engine(
            url,
            poolclass=sa.NullPool,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, poolclass=sa.NullPool, connect_args={"timeout": 30})

    # pysqlite would defer BEGIN and skip it for DDL. Taking the write lock up
    # front makes a migration atomic and serialises processes migrating at once.
    @sa.event.listens_for(engine, "connect")
    def _driver_autocommit(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
