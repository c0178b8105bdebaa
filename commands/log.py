"""The event-log port: reading what the event store recorded, in order."""

from __future__ import annotations

from collections.abc import Sequence
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
