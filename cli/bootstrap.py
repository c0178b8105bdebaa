"""The composition root: builds the object graph from settings.

Nothing here runs at import; each function opens what it returns and the
caller closes it. Settings pick the adapters: PostgreSQL or SQLite, S3 or a
local directory; Kafka's part is in cli/processes/kafka.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from api.deps import ApiServices
from commands.application import ImageCommands
from infra import imaging
from infra.blobs import BlobStore
from infra.database import Database, open_database
from infra.event_store import SqlEventLog, open_image_commands
from infra.filesystem import FilesystemBlobStore
from infra.migrate import upgrade
from infra.s3 import S3BlobStore
from infra.settings import Settings
from projections.sql import SqlReadModel
from projections.tracking import SqlTracking
from workers.consumer import Consumer
from workers.follower import Doorbell, LogFollower
from workers.janitor import Janitor
from workers.processor import Processor, ProcessorSettings
from workers.projector import ProjectorRunner

log = logging.getLogger(__name__)


@dataclass
class Core:
    """What every imgproc process shares: the stores, and the write side."""

    settings: Settings
    database: Database
    commands: ImageCommands
    log: SqlEventLog
    read_model: SqlReadModel
    tracking: SqlTracking
    blobs: BlobStore
    doorbell: Doorbell


@contextmanager
def open_core(
    settings: Settings, *, migrate: bool = True, blobs: BlobStore | None = None
) -> Iterator[Core]:
    """The stores on the configured database; blobs in the local directory unless given
    (an S3 store opens asynchronously: see open_blob_store)."""
    imaging.allow_pixels(settings.max_pixels)
    if migrate:
        upgrade(settings)
    database = open_database(settings)
    try:
        commands = open_image_commands(settings)
    except BaseException:
        database.close()
        raise
    try:
        yield Core(
            settings=settings,
            database=database,
            commands=commands,
            log=SqlEventLog(commands),
            read_model=SqlReadModel(database),
            tracking=SqlTracking(database),
            blobs=blobs if blobs is not None else FilesystemBlobStore(settings.blob_dir),
            doorbell=Doorbell(),
        )
    finally:
        commands.close()
        database.close()


@asynccontextmanager
async def open_blob_store(settings: Settings) -> AsyncIterator[BlobStore]:
    """S3 when configured (checked to answer: DependencyUnavailable if it does not),
    else the directory under the data dir."""
    if not settings.uses_s3:
        yield FilesystemBlobStore(settings.blob_dir)
        return
    store = S3BlobStore(
        endpoint_url=settings.s3_endpoint_url,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        bucket=settings.bucket,
        region=settings.s3_region,
        create_bucket=settings.s3_create_bucket,
    )
    async with store:
        await store.check()
        yield store


def api_services(core: Core) -> ApiServices:
    return ApiServices(
        commands=core.commands,
        read_model=core.read_model,
        log=core.log,
        blobs=core.blobs,
        probe=imaging.probe,
        max_upload_bytes=core.settings.max_upload_bytes,
        max_pixels=core.settings.max_pixels,
        notify=core.doorbell.ring,
    )


def processor(core: Core) -> Processor:
    return Processor(core.commands, core.blobs, ProcessorSettings.of(core.settings))


def log_follower(core: Core, consumer: Consumer) -> LogFollower:
    """The consumer, following the event store's notification log."""
    return LogFollower(
        core.log,
        core.tracking,
        consumer,
        doorbell=core.doorbell,
        poll_interval=core.settings.poll_interval,
    )


def log_followers(core: Core) -> list[LogFollower]:
    """Processor, projector and janitor, each following the event log."""
    consumers: list[Consumer] = [
        ProjectorRunner(core.read_model, core.log),
        processor(core),
        Janitor(core.blobs),
    ]
    return [log_follower(core, consumer) for consumer in consumers]
