"""Feeds a consumer from a Kafka consumer group (production).

The same consumers as in the embedded service (processor, projector, janitor)
receive the same envelopes; only the feed differs:

- An undecodable message goes to the dead-letter topic with the reason in an
  `error` header, and consumption goes on.
- A consumer that de-duplicates by (image id, version) in its own writes (the
  projector) gets every event.
- The others skip events they have already handled and have missing ones read
  from the event store (workers/kafka_ledger.py); the versions they handled are
  recorded once the batch is done.
- Offsets are committed to Kafka only after all that is durable. A batch that
  fails is read again after a pause: nothing is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import anyio
import anyio.to_thread

from commands.log import EventLog
from domain.events import EventEnvelope, decode
from infra import metrics
from infra.errors import DependencyUnavailable
from infra.kafka import (
    EventConsumer,
    Message,
    Partition,
    PartitionsHook,
    Record,
    next_offsets,
)
from workers.consumer import Consumer
from workers.kafka_ledger import VersionLedger, newest_versions, unapplied
from workers.relay import Publisher

log = logging.getLogger(__name__)

Join = Callable[[PartitionsHook], EventConsumer]


def dead_letter(record: Record, reason: str) -> Message:
    """The record as it came, plus why it could not be handled and where it was."""
    where = f"{record.topic}/{record.partition}/{record.offset}"
    headers = [*record.headers, ("error", reason.encode()), ("source", where.encode())]
    return record.key or b"", record.value or b"", headers


def decoded(records: Sequence[Record]) -> tuple[list[EventEnvelope], list[Message]]:
    """The envelopes among the records, and dead letters for the rest."""
    events: list[EventEnvelope] = []
    dead: list[Message] = []
    for record in records:
        try:
            events.append(decode(record.value or b""))
        except ValueError as e:  # msgspec.DecodeError and ValidationError
            dead.append(dead_letter(record, f"undecodable event: {e}"))
    return events, dead


class KafkaFeed:
    def __init__(
        self,
        join: Join,
        consumer: Consumer,
        *,
        log: EventLog,
        dead_letters: Publisher,
        ledger: VersionLedger | None = None,
        batch_size: int = 256,
        retry_pause: float = 1.0,
    ) -> None:
        self.consumer = consumer
        self.log = log
        self.dead_letters = dead_letters
        self.ledger = ledger
        self.batch_size = batch_size
        self.retry_pause = retry_pause
        self.member = join(self._assigned)

    async def start(self) -> None:
        """Join the group; DependencyUnavailable when Kafka cannot be reached."""
        await self.member.start()

    async def stop(self) -> None:
        with anyio.CancelScope(shield=True):  # leave the group even when cancelled
            await self.member.stop()

    async def run(self) -> None:
        while True:
            try:
                records = await self.member.getmany(timeout_ms=1_000, max_records=self.batch_size)
            except DependencyUnavailable as e:
                log.warning("%s: %s; retrying", self.consumer.name, e)
                await asyncio.sleep(self.retry_pause)
                continue
            if records:
                await self.deliver(records)

    async def deliver(self, records: Sequence[Record]) -> None:
        try:
            await self.step(records)
        except Exception:
            log.exception("%s: batch failed; retrying", self.consumer.name)
            self.member.rewind(records)
            await asyncio.sleep(self.retry_pause)

    async def step(self, records: Sequence[Record]) -> None:
        """Handle one batch of records and commit their offsets."""
        events, dead = decoded(records)
        if dead:
            await self.dead_letters.publish_batch(dead)
            log.warning("%s: %d undecodable messages dead-lettered", self.consumer.name, len(dead))
        done = next_offsets(records)
        batch = events
        if self.ledger is not None:
            batch = await anyio.to_thread.run_sync(self._unapplied, events)
        if batch:
            await self.consumer.handle(batch)
            metrics.record_events_handled(self.consumer.name, len(batch))
            if self.ledger is not None:
                await anyio.to_thread.run_sync(self._record, batch)
        if not await self.member.commit(done):
            log.info(
                "%s: partitions moved during a batch; it will be seen again", self.consumer.name
            )

    def _unapplied(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        assert self.ledger is not None
        applied = self.ledger.applied(self.consumer.name, {e.image_id for e in events})
        return unapplied(events, applied, self.log.history)

    def _record(self, batch: Sequence[EventEnvelope]) -> None:
        assert self.ledger is not None
        self.ledger.record(self.consumer.name, newest_versions(batch))

    async def _assigned(self, partitions: frozenset[Partition]) -> None:
        numbers = sorted(p.partition for p in partitions)
        log.info("%s: assigned partitions %s", self.consumer.name, numbers)
