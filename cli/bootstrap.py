"""The composition root: builds the object graph from settings.

Nothing here runs at import; each function opens what it returns and the
caller closes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from api.deps import ApiServices
from commands.application import ImageCommands
from infra import imaging
from infra.blobs import BlobStore
from infra.database import Database, open_database
from infra.event_store import SqlEventLog, open_image_commands
from infra.filesystem import FilesystemBlobStore
from infra.migrate import upgrade
from infra.settings import Settings
from projections.sql import SqlReadModel
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
    blobs: BlobStore
    doorbell: Doorbell


@contextmanager
def open_core(settings: Settings, *, migrate: bool = True) -> Iterator[Core]:
    if migrate:
        upgrade(settings)
    database = open_database(settings)
    commands = open_image_commands(settings)
    try:
        yield Core(
            settings=settings,
            database=database,
            commands=commands,
            log=SqlEventLog(commands),
            read_model=SqlReadModel(database),
            blobs=FilesystemBlobStore(settings.blob_dir),
            doorbell=Doorbell(),
        )
    finally:
        commands.close()
        database.close()


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


def log_followers(core: Core) -> list[LogFollower]:
    """Processor, projector and janitor, each following the event log."""
    settings = core.settings
    processor = Processor(
        core.commands,
        core.blobs,
        ProcessorSettings(
            max_pixels=settings.max_pixels,
            attempts=settings.processing_attempts,
            backoff=settings.processing_backoff,
            concurrency=settings.processing_workers,
        ),
    )
    consumers: list[Consumer] = [
        ProjectorRunner(core.read_model, core.log),
        processor,
        Janitor(core.blobs),
    ]
    return [
        LogFollower(
            core.log,
            core.read_model,
            consumer,
            doorbell=core.doorbell,
            poll_interval=settings.poll_interval,
        )
        for consumer in consumers
    ]
