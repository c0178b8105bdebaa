"""What every consumer of the event stream looks like, whatever feeds it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.events import EventEnvelope


class Consumer(Protocol):
    name: str
    # True when handle() stores the position itself, in the same transaction
    # as its own writes (the projector); otherwise the driver stores it after.
    tracks_position: bool

    async def handle(self, batch: Sequence[EventEnvelope]) -> None:
        """Make the batch's effects durable; raise to have it delivered again."""
        ...
