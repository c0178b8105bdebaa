"""What every consumer of the event stream looks like, whatever feeds it.

The one consumer contract: a consumer is idempotent on (image id, version)
inside its own durable effect, so a feed may hand it any event again (the
projector skips a version its row has, the processor asks the aggregate
whether the request still waits, deleting blobs twice is harmless). A feed
only delivers and acknowledges: it stores its position, or commits its Kafka
offsets, once `handle` has returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.events import EventEnvelope


class Consumer(Protocol):
    name: str

    async def handle(self, batch: Sequence[EventEnvelope]) -> None:
        """Make the batch's effects durable; raise to have it delivered again."""
        ...
