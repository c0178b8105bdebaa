"""Runs the image_status projector over batches of events."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import anyio.to_thread

from commands.log import EventLog
from domain.events import EventEnvelope
from projections.projector import VersionGap, apply, replay
from projections.rows import ImageRow
from projections.store import ReadModel


class ProjectorRunner:
    """Applies a batch to the rows it touches and saves rows and position in one
    transaction, so a redelivered batch changes nothing."""

    name = "image_status"
    tracks_position = True

    def __init__(self, read_model: ReadModel, log: EventLog) -> None:
        self.read_model = read_model
        self.log = log

    async def handle(self, batch: Sequence[EventEnvelope]) -> None:
        await anyio.to_thread.run_sync(self.apply_batch, batch)

    def apply_batch(self, batch: Sequence[EventEnvelope]) -> None:
        rows: dict[UUID, ImageRow | None] = dict(
            self.read_model.get_many({event.image_id for event in batch})
        )
        changed: dict[UUID, ImageRow] = {}
        for event in batch:
            before = rows.get(event.image_id)
            try:
                after = apply(before, event)
            except VersionGap:
                # A message was lost on the way: rebuild this image from its history.
                after = replay(
                    e for e in self.log.history(event.image_id) if e.version <= event.version
                )
            if after is not None and after is not before:
                rows[event.image_id] = after
                changed[event.image_id] = after
        self.read_model.save(self.name, list(changed.values()), batch[-1].position)
