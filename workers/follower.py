"""Feeds a consumer from the event store's notification log: every consumer in the
embedded service, and the relay everywhere. The consumer's position lives in the
`tracking` table, stored once the consumer has handled the batch.

A follower reads as soon as its doorbell rings: after every command recorded in its
process, and for every NOTIFY of the event store while the process listens for them
(PostgreSQL). It polls the log only while nothing would ring for every record: on
SQLite, whose other writers cannot ring, and while the listening connection is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import anyio.to_thread

from commands.log import EventLog
from infra import metrics
from projections.tracking import Tracking
from workers.consumer import Consumer

log = logging.getLogger(__name__)


class Doorbell:
    """Wakes the followers as soon as something is recorded, from any thread.

    `listening` is true while every record, whichever process made it, rings the bell
    (the process listens for the event store's NOTIFY): the followers then need no poll.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bells: list[asyncio.Event] = []
        self.listening = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self) -> asyncio.Event:
        bell = asyncio.Event()
        self._bells.append(bell)
        return bell

    def ring(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def set_listening(self, listening: bool) -> None:
        """Said by the listener when it starts or stops hearing every record. It rings:
        the followers read what was recorded meanwhile, then wait in the new way."""
        self.listening = listening
        self.ring()

    def _wake(self) -> None:
        for bell in self._bells:
            bell.set()


class LogFollower:
    """Hands the consumer the log in order, in batches, from its stored position.
    A batch that fails is offered again after a pause: nothing is skipped."""

    def __init__(
        self,
        log: EventLog,
        positions: Tracking,
        consumer: Consumer,
        *,
        doorbell: Doorbell | None = None,
        batch_size: int = 256,
        poll_interval: float = 0.05,
        retry_pause: float = 1.0,
    ) -> None:
        self.log = log
        self.positions = positions
        self.consumer = consumer
        self.doorbell = doorbell or Doorbell()
        # Cleared before each read, so a ring during the read is not lost.
        self._bell = self.doorbell.subscribe()
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_pause = retry_pause

    async def run(self) -> None:
        """Follow until cancelled. Any failure, the database's included, is logged and
        the batch tried again from the stored position after a pause."""
        position: int | None = None  # unknown: read it from the store
        while True:
            try:
                if position is None:
                    position = await anyio.to_thread.run_sync(
                        self.positions.position, self.consumer.name
                    )
                position = await self.step(position)
            except Exception:
                log.exception("%s: batch failed; retrying", self.consumer.name)
                position = None
                await asyncio.sleep(self.retry_pause)

    async def step(self, position: int) -> int:
        """Handle one batch after position; return the new position."""
        self._bell.clear()
        batch = await anyio.to_thread.run_sync(self.log.read, position, self.batch_size)
        if not batch:
            # While every record rings the bell, waiting for it is enough; else poll too.
            timeout = None if self.doorbell.listening else self.poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._bell.wait(), timeout)
            return position
        await self.consumer.handle(batch)
        metrics.events_handled.labels(consumer=self.consumer.name).inc(len(batch))
        position = batch[-1].position
        await anyio.to_thread.run_sync(self.positions.set_position, self.consumer.name, position)
        return position

    async def drain(self) -> int:
        """Handle everything recorded so far (for tests)."""
        position = await anyio.to_thread.run_sync(self.positions.position, self.consumer.name)
        head = await anyio.to_thread.run_sync(self.log.head)
        while position < head:
            position = await self.step(position)
        return position
