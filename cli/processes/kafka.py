"""Kafka's part of the composition root: topics, producers and the consumer-group feeds."""

from __future__ import annotations

import math

from cli.bootstrap import Core
from infra.kafka import (
    MAX_POLL_INTERVAL_MS,
    EventConsumer,
    EventPublisher,
    PartitionsHook,
    ensure_topic,
)
from infra.settings import Settings
from workers.consumer import Consumer
from workers.kafka_feed import Join, KafkaFeed
from workers.kafka_ledger import VersionLedger
from workers.processor import TIME_LIMIT_GRACE
from workers.relay import Publisher

DEAD_LETTER_PARTITIONS = 1

# A member that does not fetch again within max_poll_interval leaves its group, and its
# partitions move. The processor fetches only when a whole batch is rendered, each image
# taking up to processing_time_limit (+ grace), processing_workers at a time: 256 records
# would take over an hour. So it reads a few rounds of images per batch, and the interval
# covers such a batch with a round to spare (for fetching, storing and recording).
PROCESSOR_ROUNDS_PER_BATCH = 4


def batch_size(settings: Settings, role: str) -> int:
    """Records per batch: few for the processor, so a batch stays short."""
    if role != "processor":
        return settings.kafka_batch_size
    workers = max(1, settings.processing_workers)
    return max(1, min(settings.kafka_batch_size, PROCESSOR_ROUNDS_PER_BATCH * workers))


def max_poll_interval_ms(settings: Settings, role: str) -> int:
    """Long enough for the role's slowest batch, never shorter than the default."""
    if role != "processor":
        return MAX_POLL_INTERVAL_MS
    rounds = math.ceil(batch_size(settings, role) / max(1, settings.processing_workers))
    per_image = settings.processing_time_limit + TIME_LIMIT_GRACE
    return max(MAX_POLL_INTERVAL_MS, math.ceil((rounds + 1) * per_image * 1000))


def _brokers(settings: Settings) -> str:
    if settings.kafka_brokers is None:
        raise ValueError("Kafka is not configured (KAFKA_BROKERS)")
    return settings.kafka_brokers


async def ensure_topics(settings: Settings) -> None:
    """Create the event topic and the dead-letter topic unless they exist; this is also
    the check, at start, that Kafka answers."""
    brokers = _brokers(settings)
    await ensure_topic(brokers, settings.kafka_topic, settings.kafka_partitions)
    await ensure_topic(brokers, settings.dead_letter_topic, DEAD_LETTER_PARTITIONS)


def publisher(settings: Settings, topic: str, role: str) -> EventPublisher:
    return EventPublisher(
        _brokers(settings),
        topic,
        enable_idempotence=settings.kafka_idempotent,
        client_id=f"imgproc-{role}",
    )


def joiner(settings: Settings, role: str) -> Join:
    """How a feed joins the role's consumer group on the event topic."""

    def join(on_assigned: PartitionsHook) -> EventConsumer:
        return EventConsumer(
            _brokers(settings),
            settings.kafka_topic,
            settings.group_id(role),
            on_assigned=on_assigned,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
            max_poll_interval_ms=max_poll_interval_ms(settings, role),
            client_id=f"imgproc-{role}",
        )

    return join


def kafka_feed(
    core: Core,
    role: str,
    consumer: Consumer,
    dead_letters: Publisher,
    *,
    ledger: bool = True,
) -> KafkaFeed:
    """Feed the consumer from the role's group, with a version ledger unless the consumer
    de-duplicates by itself (the projector, by its rows' versions)."""
    return KafkaFeed(
        joiner(core.settings, role),
        consumer,
        log=core.log,
        dead_letters=dead_letters,
        ledger=VersionLedger(core.database) if ledger else None,
        batch_size=batch_size(core.settings, role),
    )
