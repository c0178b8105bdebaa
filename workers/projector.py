"""Runs the image_status projector over batches of events."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio.to_thread

from commands.log import EventLog
from domain.events import EventEnvelope
from projections.applier import BatchApplier, Rows


class ProjectorRunner:
    """Applies each batch to the rows it touches and saves the rows that changed. A row
    never goes back to an older version, so a redelivered batch changes nothing; the
    feed stores how far it got."""

    name = "image_status"

    def __init__(
        self, read_model: Rows, log: EventLog, *, saved: Callable[[], None] | None = None
    ) -> None:
        self.read_model = read_model
        # No cache: other projector processes write the same rows.
        self.applier = BatchApplier(log.history)
        # Called on the event loop once a batch is saved: readers in this process waiting
        # for a row to reach a version look again.
        self.saved = saved

    async def handle(self, batch: Sequence[EventEnvelope]) -> None:
        await anyio.to_thread.run_sync(self.apply_batch, batch)
        if self.saved is not None:
            self.saved()

    def apply_batch(self, batch: Sequence[EventEnvelope]) -> None:
        self.applier.apply(self.read_model, batch)
