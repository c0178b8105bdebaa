"""What a Kafka consumer has already handled, image by image.

Kafka delivers at least once, and a partition that moves to another member is
read again from the last commit. A consumer therefore remembers the newest
version of each image it has handled (`consumer_versions`): an event at or
below it is skipped; an event past the next version means one went missing,
and the image's events in between are read from the event store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from uuid import UUID

from domain.events import EventEnvelope
from infra.database import Database

# Ids per statement, well under both databases' limits on bound parameters.
_CHUNK = 500
_RECORD = (
    "INSERT INTO consumer_versions (consumer, image_id, version) VALUES (?, ?, ?) "
    "ON CONFLICT (consumer, image_id) DO UPDATE SET version = excluded.version "
    "WHERE consumer_versions.version < excluded.version"
)

History = Callable[[UUID], Sequence[EventEnvelope]]


def unapplied(
    events: Iterable[EventEnvelope], applied: Mapping[UUID, int], history: History
) -> list[EventEnvelope]:
    """The events still to handle, in order, with any missing ones read from `history`."""
    newest = dict(applied)
    due: list[EventEnvelope] = []
    for event in events:
        have = newest.get(event.image_id, 0)
        if event.version <= have:
            continue
        if event.version > have + 1:
            due += [e for e in history(event.image_id) if have < e.version < event.version]
        due.append(event)
        newest[event.image_id] = event.version
    return due


def newest_versions(events: Iterable[EventEnvelope]) -> dict[UUID, int]:
    newest: dict[UUID, int] = {}
    for event in events:
        newest[event.image_id] = max(newest.get(event.image_id, 0), event.version)
    return newest


class VersionLedger:
    """Synchronous: call it from async code through a worker thread."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def applied(self, consumer: str, image_ids: Iterable[UUID]) -> dict[UUID, int]:
        ids = [str(image_id) for image_id in dict.fromkeys(image_ids)]
        found: dict[UUID, int] = {}
        with self._db.transaction(readonly=True) as cursor:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                query = (
                    "SELECT image_id, version FROM consumer_versions "
                    f"WHERE consumer = ? AND image_id IN ({', '.join('?' for _ in chunk)})"
                )
                cursor.execute(query, [consumer, *chunk])
                found.update((UUID(str(i)), int(v)) for i, v in cursor.fetchall())
        return found

    def record(self, consumer: str, versions: Mapping[UUID, int]) -> None:
        """Remember the newest versions handled; an older one never replaces a newer."""
        if not versions:
            return
        rows = [(consumer, str(image_id), version) for image_id, version in versions.items()]
        with self._db.transaction() as cursor:
            cursor.executemany(_RECORD, rows)
