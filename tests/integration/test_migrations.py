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

from commands.application import ImageCommands
from infra.errors import DependencyUnavailable
from infra.event_store import event_store_env
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
    from tests.integration.backends import fresh_settings  # late: pytest loads it as a plugin first

    upgrade(blank_settings)
    backend = "postgres" if blank_settings.uses_postgres else "sqlite"
    (tmp_path / "reference").mkdir()
    with fresh_settings(backend, tmp_path / "reference") as reference:
        env = event_store_env(reference) | {"CREATE_TABLE": "true"}
        app = ImageCommands(env=env)
        try:
            assert app.recorder.events_table_name == events_table(blank_settings)  # type: ignore[attr-defined]
            assert event_store_schema(blank_settings) == event_store_schema(reference)
        finally:
            app.close()


def test_an_unreachable_postgres_is_reported_quickly(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/none"
    )
    started = time.monotonic()

    with pytest.raises(DependencyUnavailable):
        upgrade(settings)

    assert time.monotonic() - started < 2


def event_store_schema(settings: Settings) -> list[Any]:
    """Everything about the event store objects that the library depends on."""
    queries = (
        [
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE tbl_name = 'stored_events' ORDER BY name"
        ]
        if not settings.uses_postgres
        else [
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_name = 'images_events' "
            "ORDER BY ordinal_position",
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'images_events' ORDER BY indexname",
            "SELECT reloptions FROM pg_class WHERE relname = 'images_events'",
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'stored_event_uuid'::regclass ORDER BY attnum",
            "SELECT proname, prosrc, pg_get_function_arguments(oid) FROM pg_proc "
            "WHERE left(proname, 3) = 'es_' ORDER BY proname",
        ]
    )
    engine = sa.create_engine(sqlalchemy_url(settings), poolclass=sa.NullPool)
    with engine.connect() as connection:
        schema = [[tuple(row) for row in connection.exec_driver_sql(q)] for q in queries]
    engine.dispose()
    return schema
