"""Applying batches of events to the rows they touch: the one way events reach rows, for
the live projector, a rebuild and a verification alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Protocol, runtime_checkable
from uuid import UUID

from domain.events import EventEnvelope
from projections.projector import VersionGap, apply, replay
from projections.rows import ImageRow
from projections.sql import Cursor, Database

# Rows kept in memory by a rebuild: about 1 KiB each. Images change in bursts
# (upload, request, completion), so the rows a batch touches are mostly recent ones.
CACHE_ROWS = 100_000

History = Callable[[UUID], Sequence[EventEnvelope]]


class Rows(Protocol):
    """Where rows are read and written: a read model, or a table in a transaction
    (projections/sql.py's SqlRows)."""

    def get_many(self, image_ids: Iterable[UUID]) -> Mapping[UUID, ImageRow]: ...

    def save(self, rows: Sequence[ImageRow]) -> None: ...


@runtime_checkable
class TableRows(Rows, Protocol):
    """Rows of a table an applier owns, which can take new rows in bulk."""

    def insert(self, rows: Sequence[ImageRow]) -> None:
        """Add rows of images the table has no row for yet."""
        ...


class BatchApplier:
    """Applies batches of events in order and saves the rows they changed, one per image;
    `events` and `position` say how many it has applied, and up to where.

    `history` repairs a gap; without one, a gap raises VersionGap. The live projector
    reads every row a batch touches: other projector processes write the same table.
    With `owns_table` (a table that starts empty and has no other writer: a rebuild's)
    rows are remembered across batches, and until the cache first overflows an image
    it has not seen has no row; the rows of images new to the table are `insert`ed
    in bulk where the target can. What a `transaction` rolled back is forgotten.
    """

    def __init__(self, history: History | None = None, *, owns_table: bool = False) -> None:
        self._history = history
        # Rows are keyed by UUID.int: hashing a UUID runs Python code.
        self._cache: dict[int, ImageRow] = {}
        self._uncommitted: dict[int, ImageRow] = {}
        self._owns_table = self._caching = owns_table
        self._cache_is_whole_table = owns_table
        self.events = self.position = 0

    def apply(self, target: Rows, events: Sequence[EventEnvelope]) -> None:
        """Apply the events in order and save the rows they changed to `target`."""
        if not events:
            return
        rows = self._rows(target, {event.image_id.int: event.image_id for event in events})
        changed: dict[int, ImageRow] = {}
        created: set[int] = set()  # images with no row in the table before this batch
        for event in events:
            key = event.image_id.int
            before = rows.get(key)
            if before is None:
                created.add(key)
            try:
                after = apply(before, event)
            except VersionGap:
                if self._history is None:
                    raise
                # The image from its events up to the one that revealed the gap.
                history = self._history(event.image_id)
                after = replay(e for e in history if e.version <= event.version)
            if after is not None and after is not before:
                rows[key] = changed[key] = after
        if changed and self._owns_table and isinstance(target, TableRows):
            # No other writer: the rows of images it had not seen are not in the table.
            target.insert([row for key, row in changed.items() if key in created])
            target.save([row for key, row in changed.items() if key not in created])
        elif changed:
            target.save(list(changed.values()))
        if self._caching:
            self._uncommitted.update(changed)
        self.events, self.position = self.events + len(events), events[-1].position

    @contextmanager
    def transaction(self, db: Database) -> Iterator[Cursor]:
        """A transaction for applies: if it rolls back, the applier forgets them."""
        applied = self.events, self.position
        try:
            with db.transaction() as cursor:
                yield cursor
        except BaseException:
            self.events, self.position = applied
            self._uncommitted.clear()
            raise
        self.keep()

    def keep(self) -> None:
        """What was applied stays, as if committed: for a caller whose one transaction is
        all it reads from (verify's scratch table), so its memory stays bounded."""
        self._remember(self._uncommitted)
        self._uncommitted.clear()

    def _rows(self, target: Rows, ids: dict[int, UUID]) -> dict[int, ImageRow]:
        found: dict[int, ImageRow] = {}
        for key in ids:
            row = self._uncommitted.get(key) or self._cache.get(key)
            if row is not None:
                found[key] = row
        if self._cache_is_whole_table or len(found) == len(ids):
            return found
        missing = [image_id for key, image_id in ids.items() if key not in found]
        found.update((row.id.int, row) for row in target.get_many(missing).values())
        return found

    def _remember(self, rows: dict[int, ImageRow]) -> None:
        cache = self._cache
        for key, row in rows.items():
            cache.pop(key, None)  # re-inserted last: the most recently used
            cache[key] = row
        overflow = len(cache) - CACHE_ROWS
        if overflow > 0:
            for key in list(islice(cache, overflow)):  # the least recently used
                del cache[key]
            self._cache_is_whole_table = False
