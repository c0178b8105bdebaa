"""Checking a live projection against a fresh rebuild from the log, row by row.

One transaction sees a single snapshot of the live table (REPEATABLE READ on
PostgreSQL; a read transaction on SQLite). In it, the projection's position P
and then the log's head H are read, and a temporary scratch table is built from
the log up to H. The live projector carries on meanwhile, unseen.

A live row may trail the rebuilt one only because the projector has not got
there yet. So a row that differs counts as drift unless it is exactly what the
image's own history builds up to the live row's version, and the next event
(or, for a missing row, the upload) lies past P. Everything up to P must be in
the live table, however the projector is fed (log or Kafka).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from domain.events import EventEnvelope
from projections.applier import BatchApplier
from projections.batches import streamed
from projections.projector import replay
from projections.rebuild import BATCH_EVENTS, Log, Progress, ProgressHook, Projection
from projections.rows import COLUMNS, ImageRow
from projections.shadow import create_copy, drop
from projections.sql import Cursor, Database, SqlRows, bulk_insert
from projections.tracking import stored_position

# Differences described in full; the rest are only counted.
SHOWN_DIFFERENCES = 20


class HistoryLog(Log, Protocol):
    def history(self, image_id: UUID) -> Sequence[EventEnvelope]: ...


@dataclass(frozen=True)
class Difference:
    """One image whose live row is not what its events build."""

    image_id: UUID
    live: ImageRow | None
    rebuilt: ImageRow | None

    def fields(self) -> dict[str, tuple[Any, Any]]:
        """Column → (live value, rebuilt value), for the columns that differ."""
        if self.live is None or self.rebuilt is None:
            return {}
        return {
            column: (getattr(self.live, column), getattr(self.rebuilt, column))
            for column in COLUMNS
            if getattr(self.live, column) != getattr(self.rebuilt, column)
        }


@dataclass(frozen=True)
class Verified:
    projection: str
    position: int  # the live projection's
    head: int  # the log's, which the rebuild went up to
    rows: int  # rows the rebuild built
    behind: int  # live rows not yet up to date (the projector has yet to get there)
    drifted: int  # rows that are wrong
    differences: list[Difference]  # the first SHOWN_DIFFERENCES drifted rows, by id

    @property
    def ok(self) -> bool:
        return self.drifted == 0


def verify(
    db: Database,
    log: HistoryLog,
    chosen: Projection,
    *,
    batch_size: int = BATCH_EVENTS,
    progress: ProgressHook | None = None,
    shown: int = SHOWN_DIFFERENCES,
) -> Verified:
    dialect = db.dialect
    with db.transaction(readonly=True) as cursor:
        if dialect == "postgresql":
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        position = stored_position(cursor, chosen.name)
        head = log.head()  # the snapshot above holds nothing recorded after this
        create_copy(cursor, dialect, chosen.table, chosen.scratch, scratch=True)
        scratch = SqlRows(cursor, dialect, chosen.scratch, bulk=bulk_insert(db))
        applier = BatchApplier(owns_table=True)
        for batch in streamed(log, 0, batch_size, up_to=head, read_ahead=True):
            applier.apply(scratch, batch)
            applier.keep()  # one transaction throughout: nothing would ever be committed
            if progress is not None:
                progress(Progress(applier.events, applier.position, head))
        differing = _differing_ids(cursor, chosen.table, chosen.scratch)
        live = SqlRows(cursor, dialect, chosen.table).get_many(differing)
        rebuilt = scratch.get_many(differing)
        cursor.execute(f"SELECT count(*) FROM {chosen.scratch}")
        rows = int(cursor.fetchone()[0])
        if dialect == "sqlite":
            drop(cursor, chosen.scratch)  # temporary tables there last as long as the connection
    differences = [Difference(i, live.get(i), rebuilt.get(i)) for i in differing]
    drifted = [d for d in differences if not _behind(d, log, position)]
    return Verified(
        chosen.name,
        position,
        head,
        rows,
        behind=len(differences) - len(drifted),
        drifted=len(drifted),
        differences=drifted[:shown],
    )


def _behind(difference: Difference, log: HistoryLog, position: int) -> bool:
    """Whether the live row is only out of date: right as of its version, and the events
    it lacks all lie past the projection's position."""
    live, rebuilt = difference.live, difference.rebuilt
    if rebuilt is None:
        return False  # no event builds this row
    if live is None:
        return rebuilt.created_position > position
    if live.version >= rebuilt.version:
        return False
    history = log.history(difference.image_id)
    return replay(history[: live.version]) == live and history[live.version].position > position


def _differing_ids(cursor: Cursor, live: str, scratch: str) -> list[UUID]:
    """Ids of rows missing from either table or different in any column, in id order."""
    columns = ", ".join(COLUMNS)
    cursor.execute(
        f"SELECT id FROM (SELECT {columns} FROM {live} "
        f"EXCEPT SELECT {columns} FROM {scratch}) AS unexpected "
        f"UNION SELECT id FROM (SELECT {columns} FROM {scratch} "
        f"EXCEPT SELECT {columns} FROM {live}) AS expected "
        "ORDER BY 1"
    )
    return [UUID(str(value)) for (value,) in cursor.fetchall()]
