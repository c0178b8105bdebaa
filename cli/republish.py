"""Publishing a range of the event log to Kafka again, message for message as the relay
publishes it (workers/relay.py), for a consumer that joins late or lost its data."""

from __future__ import annotations

import anyio.to_thread

from commands.log import EventLog
from infra.kafka import EventPublisher
from infra.settings import Settings
from workers.relay import message


async def republish_range(log: EventLog, settings: Settings, after: int, last: int) -> int:
    """Publish the events after position `after` up to `last`; return how many."""
    assert settings.kafka_brokers is not None
    publisher = EventPublisher(
        settings.kafka_brokers, settings.kafka_topic, enable_idempotence=settings.kafka_idempotent
    )
    await publisher.start()
    published, position = 0, after
    try:
        while position < last:
            read = await anyio.to_thread.run_sync(log.read, position, settings.kafka_batch_size)
            batch = [event for event in read if event.position <= last]
            if not batch:
                break
            await publisher.publish_batch([message(event) for event in batch])
            published, position = published + len(batch), batch[-1].position
    finally:
        await publisher.stop()
    return published
