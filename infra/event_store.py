"""The event store: eventsourcing's configuration for ImageCommands, and the log it records.

The tables are created by the migrations, never by the library (CREATE_TABLE
is false), so `infra.migrate.upgrade` must have run before `open_image_commands`.
A notification id is an event's position in the log: the rowid on SQLite,
`notification_id` on PostgreSQL.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast
from uuid import UUID

import eventsourcing.postgres
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import Environment, retry
from psycopg.conninfo import conninfo_to_dict

from commands.application import ImageCommands
from domain.events import EventEnvelope, envelope
from infra.errors import DependencyUnavailable
from infra.postgres import check_reachable
from infra.settings import Settings

T = TypeVar("T")

SQLITE_LOCK_TIMEOUT_SECONDS = 10
POSTGRES_POOL_SIZE = 2  # kept open
POSTGRES_MAX_OVERFLOW = 8  # opened under load
# How long a call waits for a pooled connection, per try; the recorder tries twice.
POSTGRES_POOL_TIMEOUT_SECONDS = 2


def event_store_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for ImageCommands on the configured database."""
    if settings.database_url is None:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path.absolute()),
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
            "CREATE_TABLE": "false",
        }
    params = conninfo_to_dict(settings.database_url)
    return {
        "PERSISTENCE_MODULE": f"{__name__}:{PostgresFactory.__name__}",
        "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
        "POSTGRES_HOST": str(params.get("host", "localhost")),
        "POSTGRES_PORT": str(params.get("port", "5432")),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(params.get("password", "")),
        "POSTGRES_CONNECT_TIMEOUT": str(POSTGRES_POOL_TIMEOUT_SECONDS),
        "POSTGRES_SSLMODE": str(params.get("sslmode", "")),
        "POSTGRES_POOL_SIZE": str(POSTGRES_POOL_SIZE),
        "POSTGRES_MAX_OVERFLOW": str(POSTGRES_MAX_OVERFLOW),
        "POSTGRES_PRE_PING": "true",  # a restarted server costs no failed command
        "CREATE_TABLE": "false",
    }


_TWO_TRIES = retry((InterfaceError, OperationalError), max_attempts=2, wait=0.1)


class FailFastRecorder(PostgresApplicationRecorder):
    """The library's recorder, giving up after two tries instead of ten.

    Each try waits up to the pool timeout for a connection, so ten tries made a
    dead server take half a minute to report (and a request as long to get its
    503); two still ride out one dropped connection.
    """

    insert_events = _TWO_TRIES(inspect.unwrap(PostgresApplicationRecorder.insert_events))
    select_events = _TWO_TRIES(inspect.unwrap(PostgresApplicationRecorder.select_events))
    select_notifications = _TWO_TRIES(
        inspect.unwrap(PostgresApplicationRecorder.select_notifications)
    )
    max_notification_id = _TWO_TRIES(
        inspect.unwrap(PostgresApplicationRecorder.max_notification_id)
    )


class PostgresFactory(eventsourcing.postgres.PostgresFactory):
    """The library's PostgreSQL persistence, with the fail-fast recorder and the SSL
    mode (POSTGRES_SSLMODE), which its own settings have no name for."""

    application_recorder_class = FailFastRecorder

    def __init__(self, env: Environment | dict[str, str] | None) -> None:
        super().__init__(env)
        sslmode = self.env.get("POSTGRES_SSLMODE")
        if sslmode:
            # The pool opens lazily; every connection it makes uses these arguments.
            kwargs = cast(dict[str, Any], self.datastore.pool.kwargs)
            kwargs["sslmode"] = sslmode


def notification_channel(app: ImageCommands) -> str | None:
    """The channel PostgreSQL NOTIFYs when events are recorded; None on SQLite."""
    recorder = app.recorder
    return recorder.channel_name if isinstance(recorder, PostgresApplicationRecorder) else None


def open_image_commands(settings: Settings) -> ImageCommands:
    """ImageCommands on the configured event store; DependencyUnavailable if it is down."""
    if settings.database_url is not None:
        check_reachable(settings.database_url)
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return _guarded(lambda: ImageCommands(env=event_store_env(settings)))


class SqlEventLog:
    """The EventLog port (commands/log.py) over the event store's notification log."""

    def __init__(self, app: ImageCommands) -> None:
        self._app = app

    def read(self, after: int, limit: int) -> Sequence[EventEnvelope]:
        notifications = _guarded(
            lambda: self._app.recorder.select_notifications(
                start=after, limit=limit, inclusive_of_start=False
            )
        )
        return [self._envelope(n.id, n) for n in notifications]

    def head(self) -> int:
        return _guarded(self._app.recorder.max_notification_id) or 0

    def history(self, image_id: UUID, after_version: int = 0) -> Sequence[EventEnvelope]:
        positioned = _guarded(lambda: self._positioned(image_id, after_version))
        return [self._envelope(p, e) for p, e in positioned]

    def _positioned(self, image_id: UUID, after_version: int) -> list[tuple[int, StoredEvent]]:
        """The image's stored events after a version, each with its notification id."""
        recorder = self._app.recorder
        if isinstance(recorder, SQLiteApplicationRecorder):
            query = "SELECT rowid AS position, * FROM {} WHERE originator_id=? "
            query += "AND originator_version>? "
            key: Any = image_id.hex  # how the SQLite recorder stores a UUID
        elif isinstance(recorder, PostgresApplicationRecorder):
            query = "SELECT notification_id AS position, * FROM {} WHERE originator_id=%s "
            query += "AND originator_version>%s "
            key = image_id
        else:
            raise TypeError(f"no history query for {type(recorder).__name__}")
        query = query.format(recorder.events_table_name) + "ORDER BY originator_version"
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (key, after_version))
            return [(row["position"], _stored(image_id, row)) for row in cursor.fetchall()]

    def _envelope(self, position: int, stored: StoredEvent) -> EventEnvelope:
        event = cast(DomainEvent, self._app.mapper.to_domain_event(stored))
        return envelope(
            event_type=type(event).__name__,
            image_id=event.originator_id,
            version=event.originator_version,
            position=position,
            occurred_at=event.timestamp,
            state=event.__dict__,
        )


def _stored(image_id: UUID, row: Any) -> StoredEvent:
    return StoredEvent(
        originator_id=image_id,
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


def _guarded(call: Callable[[], T]) -> T:
    try:
        return call()
    except PersistenceError as e:
        raise DependencyUnavailable("event store", str(e)) from e
