"""Rebuilding a projection from the event log beside the live one, then handing over.

1. A shadow table is filled from the start of the log in large batches, one
   transaction each, without touching the live table: readers and the live
   projector carry on. It catches up until the log has no more for it.
2. One transaction then keeps the live table's other writers out, applies what
   the log gained meanwhile up to its head as it stands then, swaps the shadow in
   and sets the projection's position to that head. The live projector resumes
   from the position it last saved, at or before that head: what it reads again,
   the rows already have, and it skips (it is idempotent on (image_id, version)).

A crash before the swap commits leaves the live table and its position as they
were; the leftover shadow is dropped when the rebuild runs again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from projections.applier import BatchApplier
from projections.batches import Streamable, streamed
from projections.shadow import create_copy, drop, hold_writers, swap
from projections.sql import Database, SqlRows, bulk_insert
from projections.tracking import SET_POSITION

# Events per read and per transaction while the shadow fills.
BATCH_EVENTS = 10_000
# Tries of a swap that could not get its locks in time.
SWAP_ATTEMPTS = 3


class Log(Streamable, Protocol):
    """What a rebuild reads (infra/event_store.py's SqlEventLog has it)."""

    def head(self) -> int: ...


@dataclass(frozen=True)
class Projection:
    name: str  # its position's name in `tracking`
    table: str

    @property
    def shadow(self) -> str:
        return f"{self.table}_rebuild"

    @property
    def scratch(self) -> str:
        return f"{self.table}_verify"


IMAGE_STATUS = Projection(name="image_status", table="image_status")
PROJECTIONS: dict[str, Projection] = {p.name: p for p in (IMAGE_STATUS,)}


class UnknownProjection(LookupError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown projection {name!r}; known: {', '.join(PROJECTIONS)}")


def projection(name: str) -> Projection:
    try:
        return PROJECTIONS[name]
    except KeyError:
        raise UnknownProjection(name) from None


class Progress(NamedTuple):
    events: int  # applied so far
    position: int  # of the last one applied
    head: int  # of the log, when last looked at


ProgressHook = Callable[[Progress], None]


@dataclass(frozen=True)
class Rebuilt:
    projection: str
    events: int
    position: int  # the projection's position after the swap
    seconds: float


def rebuild(
    db: Database,
    log: Log,
    chosen: Projection,
    *,
    batch_size: int = BATCH_EVENTS,
    progress: ProgressHook | None = None,
    transient: tuple[type[Exception], ...] = (),
) -> Rebuilt:
    """Rebuild `chosen` from the whole log and swap it in; see the module docstring.

    A swap that fails with one of the `transient` errors (the database's way of
    saying a lock was not granted in time) is rolled back and tried again.
    """
    started = time.perf_counter()
    with db.transaction() as cursor:
        create_copy(cursor, db.dialect, chosen.table, chosen.shadow)
    applier = BatchApplier(owns_table=True)
    report = progress or (lambda _: None)
    for batch in streamed(log, 0, batch_size, read_ahead=True):
        with applier.transaction(db) as cursor:
            applier.apply(SqlRows(cursor, db.dialect, chosen.shadow, bulk=bulk_insert(db)), batch)
        report(Progress(applier.events, applier.position, max(applier.position, log.head())))

    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            position = _swap_in(db, log, applier, chosen, batch_size)
            break
        except transient:
            if attempt == SWAP_ATTEMPTS:
                raise
    report(Progress(applier.events, position, position))
    return Rebuilt(chosen.name, applier.events, position, time.perf_counter() - started)


def _swap_in(
    db: Database, log: Log, applier: BatchApplier, chosen: Projection, batch_size: int
) -> int:
    """Catch up to the head, swap and set the position, in one transaction; the new position."""
    with applier.transaction(db) as cursor:
        hold_writers(cursor, db.dialect, chosen.table)
        head = log.head()  # nothing at or below it can reach the live table any more
        for batch in streamed(log, applier.position, batch_size, up_to=head):
            applier.apply(SqlRows(cursor, db.dialect, chosen.shadow, bulk=bulk_insert(db)), batch)
        position = max(applier.position, head)
        swap(cursor, db.dialect, chosen.table, chosen.shadow)
        cursor.execute(SET_POSITION, [chosen.name, position])
    return position


def discard(db: Database, chosen: Projection) -> None:
    """Drop a shadow left behind by a rebuild that did not finish."""
    with db.transaction() as cursor:
        drop(cursor, chosen.shadow)
