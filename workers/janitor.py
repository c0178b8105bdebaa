"""Removes an image's blobs once it is deleted."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from commands.blobs import BlobStore
from domain.events import EventEnvelope, ImageDeleted
from domain.keys import image_prefix

log = logging.getLogger(__name__)


class Janitor:
    name = "janitor"

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    async def handle(self, batch: Sequence[EventEnvelope]) -> None:
        for event in batch:
            if isinstance(event.data, ImageDeleted):
                removed = await self.blobs.delete_prefix(image_prefix(event.image_id))
                log.info("image %s deleted: %d blobs removed", event.image_id, removed)
