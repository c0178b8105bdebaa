"""Initial schema: the event store, the image_status read model, tracking positions.

The event store's objects are written out as eventsourcing 9.5.6's application
recorder creates them (its CREATE_TABLE is switched off), so the library finds
what it expects:

- SQLite: `stored_events`, the notification id being the table's rowid.
- PostgreSQL: `images_events` (the recorder names it after the application,
  `ImageCommands.name`), its `notification_id` bigserial and unique index, the
  `stored_event_uuid` composite type it inserts through, and the
  `es_insert_events_uuid` function it creates alongside (which NOTIFYs the
  channel named after the table).

Written out rather than asked of the library: a migration is a fixed step, and
the PostgreSQL recorder connects as soon as it is built. The test
`test_the_event_store_is_what_the_library_itself_would_create` compares these
tables with the ones the library creates itself, so that an upgrade of the
library which changes them fails until a new migration follows it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None

SQLITE_EVENT_STORE = [
    "CREATE TABLE IF NOT EXISTS stored_events ("
    "originator_id TEXT, "
    "originator_version INTEGER, "
    "topic TEXT, "
    "state BLOB, "
    "PRIMARY KEY "
    "(originator_id, originator_version))",
]

POSTGRES_EVENT_STORE = [
    # CREATE TYPE has no IF NOT EXISTS; tolerate a store the library created earlier.
    "DO $$ BEGIN "
    "CREATE TYPE public.stored_event_uuid "
    "AS (originator_id uuid, originator_version bigint, topic text, state bytea); "
    "EXCEPTION WHEN duplicate_object THEN NULL; "
    "END $$",
    "CREATE TABLE IF NOT EXISTS public.images_events ("
    "originator_id uuid NOT NULL, "
    "originator_version bigint NOT NULL, "
    "topic text, "
    "state bytea, "
    "notification_id bigserial, "
    "PRIMARY KEY "
    "(originator_id, originator_version)) "
    "WITH ("
    "    autovacuum_enabled = true,"
    "    autovacuum_vacuum_threshold = 100000000,"
    "    autovacuum_vacuum_scale_factor = 0.5,"
    "    autovacuum_analyze_threshold = 1000,"
    "    autovacuum_analyze_scale_factor = 0.01"
    ")",
    "CREATE UNIQUE INDEX IF NOT EXISTS images_events_notification_id_idx "
    "ON public.images_events (notification_id ASC)",
    "CREATE OR REPLACE FUNCTION "
    "public.es_insert_events_uuid(events public.stored_event_uuid[]) "
    "RETURNS SETOF bigint "
    "LANGUAGE plpgsql "
    "AS "
    "$BODY$"
    "BEGIN"
    "    SET LOCAL lock_timeout = '0s';"
    '    NOTIFY "images_events";'
    "    RETURN QUERY"
    '    INSERT INTO "public"."images_events" AS t ('
    "    originator_id, originator_version, topic, state)"
    "    SELECT originator_id, originator_version, topic, state"
    "    FROM unnest(events)"
    "    RETURNING notification_id;"
    "END;"
    "$BODY$",
]


def _is_postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _picture_columns(prefix: str, *, nullable: bool) -> list[sa.Column[Any]]:
    """The facts of a picture: the upload's, and (prefixed `result_`) the result's."""
    return [
        sa.Column(f"{prefix}content_type", sa.Text(), nullable=nullable),
        sa.Column(f"{prefix}size", sa.BigInteger(), nullable=nullable),
        sa.Column(f"{prefix}width", sa.Integer(), nullable=nullable),
        sa.Column(f"{prefix}height", sa.Integer(), nullable=nullable),
    ]


def upgrade() -> None:
    postgres = _is_postgres()
    for statement in POSTGRES_EVENT_STORE if postgres else SQLITE_EVENT_STORE:
        op.execute(statement)

    # SQLite has no uuid or timestamptz: ids and ISO 8601 timestamps are stored as text.
    uuid: sa.types.TypeEngine[object] = sa.Uuid(as_uuid=True) if postgres else sa.Text()
    moment: sa.types.TypeEngine[object] = sa.DateTime(timezone=True) if postgres else sa.Text()

    op.create_table(
        "image_status",
        sa.Column("id", uuid, primary_key=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        *_picture_columns("", nullable=False),
        sa.Column("original_key", sa.Text(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=True),
        sa.Column("request_no", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("result_key", sa.Text(), nullable=True),
        *_picture_columns("result_", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("updated_at", moment, nullable=False),
        sa.Column("created_position", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    # Listing is newest first, optionally by status.
    op.create_index(
        "ix_image_status_status_position", "image_status", ["status", "created_position"]
    )
    op.create_index("ix_image_status_position", "image_status", ["created_position"])

    # One row per consumer of the event log (projector, processor, janitor, relay).
    op.create_table(
        "tracking",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tracking")
    op.drop_table("image_status")
    if _is_postgres():
        op.execute(
            "DROP FUNCTION IF EXISTS public.es_insert_events_uuid(public.stored_event_uuid[])"
        )
        op.execute("DROP TABLE IF EXISTS public.images_events")
        op.execute("DROP TYPE IF EXISTS public.stored_event_uuid")
    else:
        op.execute("DROP TABLE IF EXISTS stored_events")
