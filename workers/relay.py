"""The relay: publishes every recorded event to Kafka, in the order of the log.

It is a consumer of the event store's notification log like any other
(workers/follower.py feeds it and stores its position once a batch is
acknowledged), so publishing is at-least-once: a relay that stops between the
acknowledgement and storing its position publishes that batch again, and the
consumers skip what they have already applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.events import SCHEMA_VERSION, EventEnvelope, encode
from infra.kafka import Message


class Publisher(Protocol):
    async def publish_batch(self, messages: Sequence[Message]) -> None:
        """Return once every message is acknowledged; raise otherwise."""
        ...


def message(event: EventEnvelope) -> Message:
    """The Kafka message of an event: keyed by image, so one image's events stay in order
    on one partition; headers let a consumer route without decoding."""
    headers = [("type", event.type.encode()), ("schema", SCHEMA_VERSION.encode())]
    return str(event.image_id).encode(), encode(event), headers


class Relay:
    name = "relay"

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def handle(self, batch: Sequence[EventEnvelope]) -> None:
        await self.publisher.publish_batch([message(event) for event in batch])
