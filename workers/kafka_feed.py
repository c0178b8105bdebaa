"""Feeds a consumer from a Kafka consumer group (production).

The same consumers as in the embedded service (processor, projector, janitor)
receive the same envelopes; only the feed differs. It delivers and
acknowledges, nothing more (workers/consumer.py): whatever Kafka redelivers
after a rebalance or a crash, the consumer skips by (image id, version).

- An undecodable message goes to the dead-letter topic with the reason in an
  `error` header, and consumption goes on.
- Offsets are committed to Kafka only once the consumer has handled the batch.
  A batch that fails is read again after a pause: nothing is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass

import anyio

from domain.events import EventEnvelope, decode
from infra import metrics
from infra.errors import DependencyUnavailable
from infra.kafka import EventConsumer, Message, Record, next_offsets
from workers.consumer import Consumer
from workers.relay import Publisher

log = logging.getLogger(__name__)


def decoded(records: Sequence[Record]) -> tuple[list[EventEnvelope], list[Message]]:
    """The envelopes among the records, and dead letters for the rest: each record as it
    came, plus why it could not be handled and where it was."""
    events: list[EventEnvelope] = []
    dead: list[Message] = []
    for record in records:
        try:
            events.append(decode(record.value or b""))
        except ValueError as e:  # msgspec.DecodeError and ValidationError
            where = f"{record.topic}/{record.partition}/{record.offset}"
            reason = f"undecodable event: {e}"
            headers = [*record.headers, ("error", reason.encode()), ("source", where.encode())]
            dead.append((record.key or b"", record.value or b"", headers))
    return events, dead


@dataclass
class KafkaFeed:
    member: EventConsumer
    consumer: Consumer
    _: KW_ONLY
    dead_letters: Publisher
    batch_size: int = 256
    retry_pause: float = 1.0

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
            if not records:
                continue
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
        if events:
            await self.consumer.handle(events)
            metrics.events_handled.labels(consumer=self.consumer.name).inc(len(events))
        if not await self.member.commit(next_offsets(records)):
            log.info(
                "%s: partitions moved during a batch; it will be seen again", self.consumer.name
            )
