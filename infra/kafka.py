"""Kafka plumbing through aiokafka: a batch publisher, a group consumer, topic setup.

Nothing here knows about events; messages are bytes with headers. Every driver
failure surfaces as `DependencyUnavailable("kafka", ...)`.

Offsets follow Kafka's convention: the offset committed for a partition is the
next one to read, i.e. the last processed record's offset + 1 (see
`next_offsets`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError, for_code

from infra.errors import DependencyUnavailable

Message = tuple[bytes, bytes, list[tuple[str, bytes]]]
"""What gets published: (key, value, headers)."""


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


MAX_POLL_INTERVAL_MS = 60_000
"""How long a member may go between fetches before it leaves its group, unless told."""

FETCH_MAX_WAIT_MS = 50
"""How long the broker may hold a fetch that finds nothing. Kafka answers one as soon
as a record arrives, so this only sets how often an idle member asks again; brokers
that answer only when the wait is over (the Kafka-compatible one the tests run, for
one) would otherwise add up to the default 500 ms to every event's way."""


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except (KafkaError, OSError) as e:
        raise DependencyUnavailable("kafka", f"{action}: {e!r}") from e


def _offsets(records: Iterable[Record]) -> dict[TopicPartition, list[int]]:
    by_partition: dict[TopicPartition, list[int]] = {}
    for record in records:
        where = TopicPartition(record.topic, record.partition)
        by_partition.setdefault(where, []).append(record.offset)
    return by_partition


def next_offsets(records: Iterable[Record]) -> dict[TopicPartition, int]:
    """The offsets to commit once these records are processed."""
    return {where: max(offsets) + 1 for where, offsets in _offsets(records).items()}


async def ensure_topic(bootstrap_servers: str, topic: str, partitions: int) -> None:
    """Create the topic, with one replica, unless it exists (then it is left as it is)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    with _translated(f"creating topic {topic!r}"):
        try:
            await admin.start()
            answer = await admin.create_topics([NewTopic(topic, partitions, 1)])
        finally:
            await admin.close()
        for _name, code, *_rest in answer.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise for_code(code)()


class EventPublisher:
    """Publishes batches to one topic and returns only when all are acknowledged.

    Idempotence (on by default, as real Kafka supports it) keeps a retried send
    from being written twice; brokers without it need `enable_idempotence=False`.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        enable_idempotence: bool = True,
        request_timeout_ms: int = 10_000,
        client_id: str = "imgproc",
    ) -> None:
        self.topic = topic
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=enable_idempotence,
            request_timeout_ms=request_timeout_ms,
            linger_ms=0,  # sent as soon as published: the relay batches by reading the log
        )

    async def start(self) -> None:
        with _translated("starting producer"):
            try:
                await self._producer.start()
            except BaseException:
                await self._producer.stop()
                raise

    async def stop(self) -> None:
        with _translated("stopping producer"):
            await self._producer.stop()

    async def publish_batch(self, messages: Sequence[Message]) -> None:
        with _translated(f"publishing to {self.topic!r}"):
            acks = [
                await self._producer.send(self.topic, value, key=key, headers=headers)
                for key, value, headers in messages
            ]
            await asyncio.gather(*acks)


class EventConsumer:
    """A member of a consumer group on one topic, committing only when told to.

    A group without committed offsets starts from the earliest record. The
    timeouts default to the shortest a stock Kafka broker accepts, so a
    dead member's partitions move on within seconds.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        *,
        session_timeout_ms: int = 6_000,
        heartbeat_interval_ms: int = 1_000,
        rebalance_timeout_ms: int = 10_000,
        max_poll_interval_ms: int = MAX_POLL_INTERVAL_MS,
        fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
        client_id: str = "imgproc",
    ) -> None:
        self.topic = topic
        self.group_id = group_id
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
            rebalance_timeout_ms=rebalance_timeout_ms,
            max_poll_interval_ms=max_poll_interval_ms,
            request_timeout_ms=10_000,
            # A fetch returns as soon as one record is there, waiting at most this long.
            fetch_min_bytes=1,
            fetch_max_wait_ms=fetch_max_wait_ms,
        )

    async def start(self) -> None:
        with _translated(f"joining group {self.group_id!r}"):
            try:
                await self._consumer.start()
                # aiokafka logs each assignment itself, at INFO.
                self._consumer.subscribe(topics=[self.topic])
            except BaseException:
                await self._consumer.stop()
                raise

    async def stop(self) -> None:
        with _translated("stopping consumer"):
            await self._consumer.stop()

    async def getmany(
        self, timeout_ms: int = 1_000, max_records: int | None = None
    ) -> list[Record]:
        """The next records (possibly none), in offset order within each partition."""
        with _translated(f"fetching from {self.topic!r}"):
            batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return [
            Record(raw.topic, raw.partition, raw.offset, raw.key, raw.value, tuple(raw.headers))
            for partition_records in batches.values()
            for raw in partition_records
        ]

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> bool:
        """Commit next-to-read offsets; False when a rebalance took the partitions away.

        After a False the new owner receives those records again, which an
        idempotent consumer absorbs.
        """
        with _translated(f"committing offsets of {self.group_id!r}"):
            try:
                await self._consumer.commit(dict(offsets))
            except CommitFailedError:
                return False
        return True

    def rewind(self, records: Iterable[Record]) -> None:
        """Read these records again: each partition still assigned goes back to the first."""
        owned = self._consumer.assignment()
        for where, offsets in _offsets(records).items():
            if where in owned:  # a partition moved away is the new owner's to read
                self._consumer.seek(where, min(offsets))
