"""Kafka plumbing against a real Kafka-compatible broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from infra.errors import DependencyUnavailable
from infra.kafka import (
    EventConsumer,
    EventPublisher,
    Message,
    Record,
    ensure_topic,
    next_offsets,
)
from tests.servers import closed_port, committed_offsets, tansu_broker

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with tansu_broker() as bootstrap:
        yield bootstrap


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def publisher(bootstrap: str, topic: str) -> EventPublisher:
    # The test broker has no idempotent producers; real Kafka keeps the default.
    return EventPublisher(bootstrap, topic, enable_idempotence=False, request_timeout_ms=3_000)


def consumer(bootstrap: str, topic: str, group: str) -> EventConsumer:
    # Short group timeouts: the test broker takes about one session timeout to form a group.
    return EventConsumer(
        bootstrap,
        topic,
        group,
        session_timeout_ms=2_000,
        heartbeat_interval_ms=300,
        rebalance_timeout_ms=2_000,
    )


async def consume(member: EventConsumer, count: int, within: float = 30.0) -> list[Record]:
    records: list[Record] = []
    deadline = time.monotonic() + within
    while len(records) < count and time.monotonic() < deadline:
        records += await member.getmany(timeout_ms=200)
    return records


def numbered(key: bytes, count: int) -> list[Message]:
    return [(key, f"event {n}".encode(), [("type", b"Numbered")]) for n in range(count)]


async def test_a_published_batch_reaches_a_consumer_group_in_order_with_headers(
    broker: str,
) -> None:
    topic = unique("images")
    await ensure_topic(broker, topic, partitions=3)
    sender = publisher(broker, topic)
    await sender.start()
    await sender.publish_batch(numbered(b"image-a", 3) + numbered(b"image-b", 2))
    await sender.stop()

    member = consumer(broker, topic, unique("projector"))
    await member.start()
    records = await consume(member, 5)
    await member.stop()

    by_key = {key: [r.value for r in records if r.key == key] for key in (b"image-a", b"image-b")}
    assert by_key == {
        b"image-a": [b"event 0", b"event 1", b"event 2"],
        b"image-b": [b"event 0", b"event 1"],
    }
    assert all(r.headers == (("type", b"Numbered"),) for r in records)


async def test_ensuring_an_existing_topic_changes_nothing(broker: str) -> None:
    topic = unique("images")
    await ensure_topic(broker, topic, partitions=2)
    await ensure_topic(broker, topic, partitions=2)


async def test_a_restarted_member_resumes_after_the_committed_offset(broker: str) -> None:
    topic, group = unique("images"), unique("processor")
    await ensure_topic(broker, topic, partitions=1)
    sender = publisher(broker, topic)
    await sender.start()
    await sender.publish_batch(numbered(b"image-a", 4))
    await sender.stop()

    first = consumer(broker, topic, group)
    await first.start()
    seen = await consume(first, 4)
    assert await first.commit(next_offsets(seen[:2]))
    assert await committed_offsets(broker, group, topic, 1) == {0: 2}
    await first.stop()

    second = consumer(broker, topic, group)
    await second.start()
    resumed = await consume(second, 2)
    await second.stop()

    assert [r.value for r in resumed] == [b"event 2", b"event 3"]


async def test_rewound_records_are_read_again(broker: str) -> None:
    topic = unique("images")
    await ensure_topic(broker, topic, partitions=1)
    sender = publisher(broker, topic)
    await sender.start()
    await sender.publish_batch(numbered(b"image-a", 3))
    await sender.stop()

    member = consumer(broker, topic, unique("projector"))
    await member.start()
    first = await consume(member, 3)
    member.rewind(first[1:])  # the batch of the last two failed
    again = await consume(member, 2)
    await member.stop()

    assert [r.offset for r in again] == [1, 2]


async def test_an_unreachable_broker_is_reported_as_unavailable() -> None:
    nowhere = f"127.0.0.1:{closed_port()}"

    with pytest.raises(DependencyUnavailable):
        await ensure_topic(nowhere, "images", partitions=1)
    with pytest.raises(DependencyUnavailable):
        await publisher(nowhere, "images").start()
    with pytest.raises(DependencyUnavailable):
        await consumer(nowhere, "images", "projector").start()


async def test_publishing_after_the_broker_went_away_fails_within_the_timeout() -> None:
    with tansu_broker() as short_lived:
        topic = unique("images")
        await ensure_topic(short_lived, topic, partitions=1)
        sender = publisher(short_lived, topic)
        await sender.start()
    started = time.monotonic()

    with pytest.raises(DependencyUnavailable):
        await sender.publish_batch(numbered(b"image-a", 1))
    await sender.stop()

    assert time.monotonic() - started < 15
