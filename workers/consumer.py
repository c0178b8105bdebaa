"""What every consumer of the event stream looks like, whatever feeds it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.events import EventEnvelope


class Consumer(Protocol):
    name: str

    async def handle(self, batch: Sequence[EventEnvelope]) -> None:
        """Make the batch's effects durable; raise to have it delivered again."""
        ...
