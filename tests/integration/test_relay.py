"""The relay against PostgreSQL and a Kafka-compatible broker: what the event store
records reaches the topic, in order, once the broker has acknowledged it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from cli.bootstrap import Stores, open_stores, relay_events
from commands.messages import RequestProcessing
from domain.events import SCHEMA_VERSION, EventEnvelope, decode
from infra.kafka import EventPublisher, ensure_topic
from infra.migrate import upgrade
from infra.settings import Settings
from tests.fakes import an_upload
from tests.servers import postgres_database, tansu_broker
from tests.waiting import eventually
from workers.follower import LogFollower
from workers.relay import Relay

pytestmark = pytest.mark.asyncio

PARTITIONS = 3


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with tansu_broker() as bootstrap:
        yield bootstrap


@pytest.fixture
def core(tmp_path: Path, broker: str) -> Iterator[Stores]:
    with postgres_database() as url:
        settings = Settings(data_dir=tmp_path, database_url=url, kafka_brokers=broker)
        upgrade(settings)
        with open_stores(settings) as opened:
            yield opened


@pytest.fixture
async def publisher(broker: str) -> AsyncIterator[EventPublisher]:
    topic = f"image-events-{uuid.uuid4().hex[:8]}"
    await ensure_topic(broker, topic, PARTITIONS)
    sender = EventPublisher(broker, topic, enable_idempotence=False, request_timeout_ms=3_000)
    await sender.start()
    yield sender
    await sender.stop()


def upload(core: Stores, spec: str | None = "resize:100x100") -> UUID:
    return core.commands.upload(an_upload(spec))


def relay(core: Stores, publisher: EventPublisher, positions: Any = None) -> LogFollower:
    return LogFollower(core.log, positions or core.tracking, Relay(publisher))


async def published(broker: str, topic: str, count: int, within: float = 10.0) -> list[Record]:
    """Everything on the topic (at least `count` messages), read without a consumer group."""
    reader = AIOKafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        records: list[Record] = []
        deadline = time.monotonic() + within
        while len(records) < count and time.monotonic() < deadline:
            batches = await reader.getmany(timeout_ms=200)
            records += [
                Record(r.partition, r.key, decode(r.value), dict(r.headers))
                for batch in batches.values()
                for r in batch
            ]
        return records
    finally:
        await reader.stop()


@dataclass(frozen=True)
class Record:
    partition: int
    key: bytes
    event: EventEnvelope
    headers: dict[str, bytes]


def by_image(records: Sequence[Record]) -> dict[UUID, list[int]]:
    versions: dict[UUID, list[int]] = {}
    for record in records:
        versions.setdefault(record.event.image_id, []).append(record.event.version)
    return versions


async def test_each_event_is_published_keyed_by_image_in_order_with_headers(
    core: Stores, publisher: EventPublisher, broker: str
) -> None:
    first, second = upload(core, spec=None), upload(core)
    core.commands.request_processing(RequestProcessing(image_id=first, spec="grayscale"))
    third = upload(core, spec=None)

    await relay(core, publisher).drain()

    records = await published(broker, publisher.topic, 5)
    assert by_image(records) == {first: [1, 2], second: [1, 2], third: [1]}
    for record in records:
        assert record.key == str(record.event.image_id).encode()
        assert record.headers == {
            "type": record.event.type.encode(),
            "schema": SCHEMA_VERSION.encode(),
        }
    placed = {(record.event.image_id, record.partition) for record in records}
    assert len(placed) == 3  # each image on one partition, so its order holds
    assert core.tracking.position("relay") == core.log.head()


async def test_a_restarted_relay_resumes_after_its_stored_position(
    core: Stores, publisher: EventPublisher, broker: str
) -> None:
    before = upload(core)
    await relay(core, publisher).drain()
    after = upload(core, spec=None)

    await relay(core, publisher).drain()  # a new process, reading the stored position

    records = await published(broker, publisher.topic, 3)
    assert by_image(records) == {before: [1, 2], after: [1]}


class PositionLost:
    """The positions of a relay that stops after the broker acknowledged a batch but
    before its position was stored."""

    def __init__(self, core: Stores) -> None:
        self.inner = core.tracking

    def position(self, tracker: str) -> int:
        return self.inner.position(tracker)

    def set_position(self, tracker: str, position: int) -> None:
        raise ConnectionError("stopped before storing the position")


async def test_a_batch_whose_position_was_not_stored_is_published_again(
    core: Stores, publisher: EventPublisher, broker: str
) -> None:
    image_id = upload(core)
    with pytest.raises(ConnectionError):
        await relay(core, publisher, PositionLost(core)).drain()

    await relay(core, publisher).drain()

    records = await published(broker, publisher.topic, 4)
    assert by_image(records) == {image_id: [1, 2, 1, 2]}  # at least once: consumers skip repeats
    assert core.tracking.position("relay") == core.log.head()


@contextlib.asynccontextmanager
async def running(
    core: Stores, publisher: EventPublisher, poll_interval: float
) -> AsyncIterator[None]:
    task = asyncio.create_task(relay_events(core, publisher, poll_interval=poll_interval))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def relays(core: Stores) -> list[str]:
    """What the relays on the test database are doing, as PostgreSQL sees their sessions:
    the active one listens for NOTIFY, a standby tries for the lock now and then."""
    seen = {"LISTEN": "listening", "SELECT pg_try_advisory_lock": "standing by"}
    with psycopg.connect(str(core.settings.database_url), autocommit=True) as connection:
        queries = connection.execute(
            "SELECT query FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return sorted(
            doing
            for (query,) in queries
            for start, doing in seen.items()
            if query.startswith(start)
        )


async def test_notify_wakes_the_relay_long_before_its_next_poll(
    core: Stores, publisher: EventPublisher, broker: str
) -> None:
    async with running(core, publisher, poll_interval=60):
        await eventually(lambda: relays(core) == ["listening"], "the relay to listen")
        started = time.monotonic()
        image_id = await asyncio.to_thread(upload, core)

        records = await published(broker, publisher.topic, 2)

    assert by_image(records) == {image_id: [1, 2]}
    assert time.monotonic() - started < 5


async def test_a_second_relay_stands_by_while_the_first_publishes(
    core: Stores, publisher: EventPublisher, broker: str
) -> None:
    with open_stores(core.settings) as standby_core:
        async with running(core, publisher, 60), running(standby_core, publisher, 60):
            await eventually(
                lambda: relays(core) == ["listening", "standing by"], "one relay to stand by"
            )
            images = [await asyncio.to_thread(upload, core) for _ in range(3)]
            records = await published(broker, publisher.topic, 6)
            # Two seconds for a duplicate to show up, if there were one.
            records = await published(broker, publisher.topic, 7, within=2)

    assert by_image(records) == {image_id: [1, 2] for image_id in images}
