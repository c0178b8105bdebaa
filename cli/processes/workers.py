"""`imgproc process`, `project` and `janitor`: one consumer each, fed by Kafka when it is
configured, else by the event store's notification log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio

from cli.bootstrap import Core, log_follower, open_blob_store, open_core, processor
from cli.processes import kafka
from cli.processes.lifecycle import check_migrated
from infra.blobs import BlobStore
from infra.settings import Settings
from workers.consumer import Consumer
from workers.janitor import Janitor
from workers.projector import ProjectorRunner

log = logging.getLogger(__name__)

ROLES = ("processor", "projector", "janitor")


async def run_worker(role: str, settings: Settings) -> None:
    """Run one role until cancelled; DependencyUnavailable when a store is down at start."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    check_migrated(settings)
    async with _blobs(role, settings) as blobs:
        with open_core(settings, migrate=False, blobs=blobs) as core:
            consumer = _consumer(role, core)
            if settings.uses_kafka:
                await _consume_kafka(role, core, consumer)
            else:
                core.doorbell.bind(asyncio.get_running_loop())
                log.info("%s following the event log", role)
                await log_follower(core, consumer).run()


def _consumer(role: str, core: Core) -> Consumer:
    match role:
        case "processor":
            return processor(core)
        case "janitor":
            return Janitor(core.blobs)
        case _:
            return ProjectorRunner(core.read_model, core.log)


async def _consume_kafka(role: str, core: Core, consumer: Consumer) -> None:
    settings = core.settings
    await kafka.ensure_topics(settings)
    dead_letters = kafka.publisher(settings, settings.dead_letter_topic, role)
    await dead_letters.start()
    try:
        feed = kafka.kafka_feed(core, role, consumer, dead_letters, ledger=role != "projector")
        await feed.start()
        log.info("%s joined group %s on %s", role, settings.group_id(role), settings.kafka_topic)
        try:
            await feed.run()
        finally:
            await feed.stop()
    finally:
        with anyio.CancelScope(shield=True):
            await dead_letters.stop()


@contextlib.asynccontextmanager
async def _blobs(role: str, settings: Settings) -> AsyncIterator[BlobStore | None]:
    """The projector never touches blobs, so it does not need the store to be up."""
    if role == "projector":
        yield None
        return
    async with open_blob_store(settings) as blobs:
        yield blobs
