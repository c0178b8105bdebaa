"""`imgproc relay`: publishes the event store's notification log to Kafka.

It wakes on PostgreSQL's NOTIFY, which the event store sends with every insert,
and polls as a fallback. One relay publishes at a time: each holds a session
advisory lock while it works, and any others wait as standbys. Should that
session be lost, the relay exits (non-zero) rather than risk publishing next to
a standby that took over; the supervisor starts it again.
"""

from __future__ import annotations

import asyncio
import logging

import anyio

from cli.bootstrap import Core, open_core
from cli.processes import kafka
from cli.processes.lifecycle import check_migrated
from infra.event_store import notification_channel
from infra.kafka import EventPublisher
from infra.postgres import PostgresSession
from infra.settings import Settings, SettingsError
from workers.follower import LogFollower
from workers.relay import Relay

log = logging.getLogger(__name__)

RELAY_LOCK_KEY = 0x696D6770726F6372  # "imgprocr"
POLL_WHILE_LISTENING = 1.0  # seconds: NOTIFY wakes the relay at once; this is the fallback


async def run_relay(settings: Settings) -> None:
    if not settings.uses_kafka:
        raise SettingsError("the relay needs Kafka: set KAFKA_BROKERS")
    check_migrated(settings)
    with open_core(settings, migrate=False) as core:
        await kafka.ensure_topics(settings)
        publisher = kafka.publisher(settings, settings.kafka_topic, "relay")
        await publisher.start()
        try:
            await relay_events(core, publisher)
        finally:
            with anyio.CancelScope(shield=True):
                await publisher.stop()


async def relay_events(
    core: Core, publisher: EventPublisher, *, poll_interval: float = POLL_WHILE_LISTENING
) -> None:
    """Publish from the stored position on, until cancelled. Without NOTIFY (SQLite) the
    relay polls at the configured interval instead of `poll_interval`."""
    core.doorbell.bind(asyncio.get_running_loop())
    channel = notification_channel(core.commands)
    url = core.settings.database_url
    if channel is None or url is None:
        log.info("relay active, polling the event log every %ss", core.settings.poll_interval)
        await _follower(core, publisher, core.settings.poll_interval).run()
        return
    session = await PostgresSession.open(url)
    try:
        log.info("relay waiting to become the active one")
        await session.wait_for_lock(RELAY_LOCK_KEY)
        log.info("relay active, woken by NOTIFY on %s", channel)
        async with anyio.create_task_group() as group:
            group.start_soon(session.listen, channel, core.doorbell.ring)
            group.start_soon(_follower(core, publisher, poll_interval).run)
    finally:
        with anyio.CancelScope(shield=True):
            await session.close()


def _follower(core: Core, publisher: EventPublisher, poll_interval: float) -> LogFollower:
    return LogFollower(
        core.log,
        core.tracking,
        Relay(publisher),
        doorbell=core.doorbell,
        batch_size=core.settings.kafka_batch_size,
        poll_interval=poll_interval,
    )
