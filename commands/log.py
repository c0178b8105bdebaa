"""The event-log port: reading what the event store recorded, in order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol
from uuid import UUID

from domain.events import EventEnvelope


class EventLog(Protocol):
    """Synchronous: call it from async code through a worker thread."""

    def read(self, after: int, limit: int) -> Sequence[EventEnvelope]:
        """Events with positions greater than `after`, in order, at most `limit`."""
        ...

    def head(self) -> int:
        """The position of the newest event, 0 for an empty log."""
        ...

    def history(self, image_id: UUID, after_version: int = 0) -> Sequence[EventEnvelope]:
        """The image's events after `after_version`, by version; empty for an unknown image."""
        ...


def batches(
    log: EventLog, after: int, size: int, *, up_to: int | None = None
) -> Iterator[Sequence[EventEnvelope]]:
    """The log after a position, a batch at a time, up to its end as it is when each
    batch is read, or up to position `up_to`."""
    while batch := log.read(after, size):
        if up_to is not None:
            batch = [event for event in batch if event.position <= up_to]
            if not batch:
                return
        yield batch
        after = batch[-1].position
