"""The migrations create every table, on SQLite and PostgreSQL, and can be run again."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory
from eventsourcing.utils import Environment

from commands.application import ImageCommands
from infra.errors import DependencyUnavailable
from infra.event_store import event_store_env, notification_channel
from infra.migrate import current_revision, head_revision, sqlalchemy_url, upgrade
from infra.settings import Settings
from projections.rows import COLUMNS, ImageRow
from tests.servers import closed_port

pytest_plugins = ["tests.integration.backends"]  # the `backend` fixtures


def inspect(settings: Settings) -> Any:
    return sa.inspect(sa.create_engine(sqlalchemy_url(settings), poolclass=sa.NullPool))


def events_table(settings: Settings) -> str:
    return "images_events" if settings.uses_postgres else "stored_events"


def test_a_fresh_database_is_migrated_to_the_newest_revision(blank_settings: Settings) -> None:
    assert current_revision(blank_settings) is None

    upgrade(blank_settings)

    assert current_revision(blank_settings) == head_revision() is not None
    tables = set(inspect(blank_settings).get_table_names())
    assert {events_table(blank_settings), "image_status", "tracking"} <= tables


def test_upgrading_again_changes_nothing(blank_settings: Settings) -> None:
    upgrade(blank_settings)
    engine = sa.create_engine(sqlalchemy_url(blank_settings), poolclass=sa.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO tracking (name, position) VALUES ('relay', 7)"))

    upgrade(blank_settings)

    assert current_revision(blank_settings) == head_revision()
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT name, position FROM tracking")).all()
    assert [tuple(row) for row in rows] == [("relay", 7)]
    engine.dispose()


def test_processes_starting_together_migrate_once(blank_settings: Settings) -> None:
    script = (
        "import sys; from pathlib import Path; "
        "from infra.migrate import upgrade; from infra.settings import Settings; "
        "upgrade(Settings(data_dir=Path(sys.argv[1]), database_url=sys.argv[2] or None))"
    )
    args = [str(blank_settings.data_dir), blank_settings.database_url or ""]
    processes = [subprocess.Popen([sys.executable, "-c", script, *args]) for _ in range(3)]

    assert [process.wait(timeout=60) for process in processes] == [0, 0, 0]
    assert current_revision(blank_settings) == head_revision()


def test_image_status_has_one_column_per_row_field(blank_settings: Settings) -> None:
    upgrade(blank_settings)
    inspector = inspect(blank_settings)

    columns = {c["name"]: c for c in inspector.get_columns("image_status")}

    assert list(columns) == list(COLUMNS)
    optional = {f.name for f in msgspec.structs.fields(ImageRow) if f.default is None}
    assert {name for name, c in columns.items() if c["nullable"]} == optional
    assert inspector.get_pk_constraint("image_status")["constrained_columns"] == ["id"]
    indexed = {tuple(i["column_names"]) for i in inspector.get_indexes("image_status")}
    assert {("status", "created_position"), ("created_position",)} <= indexed
    tracking = [c["name"] for c in inspector.get_columns("tracking")]
    assert tracking == ["name", "position"]


def test_the_event_store_is_what_the_library_itself_would_create(
    blank_settings: Settings, tmp_path: Path
) -> None:
    """Migration 0001 writes out the library's DDL; after an upgrade of the library
    this fails until a new migration brings the tables to what it now creates."""
    from tests.integration.backends import fresh_settings  # late: pytest loads it as a plugin first

    upgrade(blank_settings)
    backend = "postgres" if blank_settings.uses_postgres else "sqlite"
    (tmp_path / "reference").mkdir()
    with fresh_settings(backend, tmp_path / "reference") as reference:
        recorder = library_recorder(reference)  # the library's own factory and create_table()
        try:
            table = recorder.events_table_name  # type: ignore[attr-defined]
            assert table == events_table(blank_settings)
            assert event_store_schema(blank_settings, table) == event_store_schema(reference, table)
            if blank_settings.uses_postgres:
                app = ImageCommands(env=event_store_env(blank_settings))
                assert notification_channel(app) == recorder.channel_name  # type: ignore[attr-defined]
                app.close()
        finally:
            recorder.datastore.close()  # type: ignore[attr-defined]


def library_recorder(settings: Settings) -> ApplicationRecorder:
    """The library's recorder for ImageCommands, having created its tables itself."""
    module = "eventsourcing.postgres" if settings.uses_postgres else "eventsourcing.sqlite"
    env = event_store_env(settings) | {"PERSISTENCE_MODULE": module, "CREATE_TABLE": "true"}
    factory = InfrastructureFactory.construct(Environment(ImageCommands.name, env))
    return factory.application_recorder()


def test_an_unreachable_postgres_is_reported_quickly(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/none"
    )
    started = time.monotonic()

    with pytest.raises(DependencyUnavailable):
        upgrade(settings)

    assert time.monotonic() - started < 2


def event_store_schema(settings: Settings, table: str) -> list[Any]:
    """Everything about the event store objects that the library depends on."""
    engine = sa.create_engine(sqlalchemy_url(settings), poolclass=sa.NullPool)
    inspector = sa.inspect(engine)
    columns = [
        (c["name"], str(c["type"]), c["nullable"], c["default"])
        for c in inspector.get_columns(table)
    ]
    indexes = sorted(
        (i["name"] or "", tuple(i["column_names"]), i["unique"])
        for i in inspector.get_indexes(table)
    )
    keys = inspector.get_pk_constraint(table)["constrained_columns"]
    queries = POSTGRES_CATALOG if settings.uses_postgres else SQLITE_CATALOG
    with engine.connect() as connection:
        catalog = [
            [tuple(row) for row in connection.execute(sa.text(q), {"table": table})]
            for q in queries
        ]
    engine.dispose()
    return [columns, indexes, keys, *catalog]


# What the inspector does not show: the DDL itself, storage options, and the
# composite type, function and triggers the library inserts and notifies through.
SQLITE_CATALOG = [
    "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = :table ORDER BY name",
]
POSTGRES_CATALOG = [
    "SELECT reloptions FROM pg_class WHERE relname = :table",
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = CAST(:table AS regclass) ORDER BY conname",
    "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
    "WHERE tgrelid = CAST(:table AS regclass) ORDER BY tgname",
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
    "WHERE attrelid = CAST('stored_event_uuid' AS regclass) ORDER BY attnum",
    "SELECT proname, prosrc, pg_get_function_arguments(oid), pg_get_function_result(oid) "
    "FROM pg_proc WHERE pronamespace = CAST('public' AS regnamespace) ORDER BY proname",
    "SELECT sequencename, data_type, start_value, increment_by FROM pg_sequences "
    "ORDER BY sequencename",
]
