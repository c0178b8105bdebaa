"""The composition root: the only module that builds adapters, and the table of roles.

Every process is one role (`ROLES`): the API, the embedded service (`dev`), a
consumer of the event stream (processor, projector, janitor) or the relay. The
operator commands (`imgproc events …`, `imgproc projections …`) open the same
stores through `open_stores`. Settings pick the adapters: PostgreSQL or SQLite,
S3 or a local directory, Kafka or the event store's notification log.

Nothing here runs at import. The web server, Pillow, aioboto3 and aiokafka are
imported by the builders that need them, so `imgproc --help` and the operator
commands start without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio

from cli.processes.lifecycle import (
    check_migrated,
    exit_on_startup_error,
    log_settings,
    run_until_signalled,
)
from commands.application import ImageCommands
from commands.blobs import BlobStore
from commands.log import EventLog
from infra import imaging
from infra.errors import DependencyUnavailable
from infra.event_store import SqlEventLog, notification_channel, open_image_commands
from infra.filesystem import FilesystemBlobStore
from infra.metrics import serve_metrics
from infra.migrate import current_revision, upgrade
from infra.postgres import PostgresDatabase, PostgresQueries, PostgresSession
from infra.settings import Settings, SettingsError
from infra.sqlite import SqliteDatabase, SqliteQueries
from projections.batches import batches
from projections.queries import Pulse, ReadQueries, SqlReadQueries
from projections.sql import Database, SqlReadModel
from projections.tracking import SqlTracking
from workers.consumer import Consumer
from workers.follower import Doorbell, LogFollower
from workers.janitor import Janitor
from workers.projector import ProjectorRunner
from workers.relay import Relay

if TYPE_CHECKING:
    from api.deps import ApiServices
    from infra.kafka import EventPublisher
    from workers.kafka_feed import KafkaFeed

log = logging.getLogger(__name__)


class Role(StrEnum):
    API = "api"
    DEV = "dev"
    PROCESSOR = "processor"
    PROJECTOR = "projector"
    JANITOR = "janitor"
    RELAY = "relay"


# The consumers of the event stream, each in its own Kafka consumer group.
CONSUMERS = (Role.PROCESSOR, Role.PROJECTOR, Role.JANITOR)


class MissingStore(Exception):
    """An operator command pointed at a place with no event store."""


@dataclass
class Stores:
    """What every imgproc process shares: the write side, the log, the read side."""

    settings: Settings
    database: Database
    commands: ImageCommands
    log: SqlEventLog
    read_model: SqlReadModel
    tracking: SqlTracking
    blobs: BlobStore
    doorbell: Doorbell


def open_database(settings: Settings) -> Database:
    """The read model's database; DependencyUnavailable if it cannot be reached."""
    if settings.database_url is not None:
        return PostgresDatabase.open(settings.database_url)
    return SqliteDatabase.open(settings.sqlite_path)


@contextlib.contextmanager
def open_stores(
    settings: Settings, *, migrate: bool = False, blobs: BlobStore | None = None
) -> Iterator[Stores]:
    """The stores on the configured database, migrated first when asked; blobs in the
    local directory unless given (an S3 store opens asynchronously: open_blob_store)."""
    imaging.allow_pixels(settings.max_pixels)
    if migrate:
        upgrade(settings)
    with contextlib.ExitStack() as opened:
        database = open_database(settings)
        opened.callback(database.close)
        # Every command this process records wakes its followers of the log, whichever
        # part ran it: the API's uploads, the processor's results.
        doorbell = Doorbell()
        commands = open_image_commands(settings, on_recorded=doorbell.ring)
        opened.callback(commands.close)
        yield Stores(
            settings=settings,
            database=database,
            commands=commands,
            log=SqlEventLog(commands),
            read_model=SqlReadModel(database),
            tracking=SqlTracking(database),
            blobs=blobs if blobs is not None else FilesystemBlobStore(settings.blob_dir),
            doorbell=doorbell,
        )


@contextlib.contextmanager
def open_existing_stores(settings: Settings) -> Iterator[Stores]:
    """For the operator commands: the stores the service wrote, never created or
    migrated, so an operator pointing at the wrong place is told so."""
    where = "the PostgreSQL database" if settings.uses_postgres else settings.data_dir.absolute()
    hint = "run `imgproc migrate` or `imgproc dev` first, or pass --data-dir/--config"
    if not settings.uses_postgres and not settings.sqlite_path.exists():
        raise MissingStore(f"no event store in {where}; {hint}")
    if current_revision(settings) is None:
        raise MissingStore(f"no event store in {where} (no tables); {hint}")
    with open_stores(settings) as stores:
        yield stores


@contextlib.asynccontextmanager
async def open_blob_store(settings: Settings) -> AsyncIterator[BlobStore]:
    """S3 when configured (checked to answer: DependencyUnavailable if it does not),
    else the directory under the data dir."""
    if not settings.uses_s3:
        yield FilesystemBlobStore(settings.blob_dir)
        return
    from infra.s3 import S3BlobStore

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


@contextlib.asynccontextmanager
async def open_read_queries(settings: Settings, database: Database) -> AsyncIterator[ReadQueries]:
    """The API's read queries on the read model's database: on PostgreSQL through an
    asynchronous pool of their own, on SQLite on the event loop's connection to the file."""
    url = settings.database_url
    if url is None:
        assert isinstance(database, SqliteDatabase)
        yield SqlReadQueries(SqliteQueries(database))
        return
    pool = await PostgresQueries.open(url)
    try:
        yield SqlReadQueries(pool)
    finally:
        with anyio.CancelScope(shield=True):
            await pool.close()


# --- the parts ---------------------------------------------------------------------


def api_services(
    stores: Stores, queries: ReadQueries, *, projected: Pulse | None = None
) -> ApiServices:
    """What the API talks to. With the projector in the same process (`projected`: the
    pulse it beats), a read waiting for its own write wakes with it."""
    from api.deps import ApiServices

    return ApiServices(
        commands=stores.commands,
        queries=queries,
        log=stores.log,
        blobs=stores.blobs,
        probe=imaging.probe,
        max_upload_bytes=stores.settings.max_upload_bytes,
        max_pixels=stores.settings.max_pixels,
        projected=projected if projected is not None else Pulse(),
        read_your_writes_wait=stores.settings.read_your_writes_wait,
        # Uploads spooled beside local blobs are linked into place, not copied.
        spool_dir=stores.settings.upload_dir if not stores.settings.uses_s3 else None,
    )


def consumer(role: Role, stores: Stores, *, projected: Pulse | None = None) -> Consumer:
    """The consumer of the event stream that does a role's work; the projector beats
    `projected` after each batch it saves."""
    match role:
        case Role.PROJECTOR:
            saved = projected.beat if projected is not None else None
            return ProjectorRunner(stores.read_model, stores.log, saved=saved)
        case Role.JANITOR:
            return Janitor(stores.blobs)
        case Role.PROCESSOR:
            from workers.processor import Processor

            return Processor(stores.commands, stores.blobs, stores.settings)
    raise ValueError(f"{role} is not a consumer of the event stream")


def log_follower(
    stores: Stores, worker: Consumer, *, poll_interval: float | None = None
) -> LogFollower:
    """The consumer, following the event store's notification log."""
    return LogFollower(
        stores.log,
        stores.tracking,
        worker,
        doorbell=stores.doorbell,
        batch_size=stores.settings.kafka_batch_size,
        poll_interval=stores.settings.poll_interval if poll_interval is None else poll_interval,
    )


# A member that does not fetch again within max_poll_interval leaves its group, and its
# partitions move. The processor fetches only when a whole batch is rendered, each image
# taking up to processing_time_limit (+ grace), processing_workers at a time: 256 records
# would take over an hour. So it reads a few rounds of images per batch, and the interval
# covers such a batch with a round to spare (for fetching, storing and recording).
PROCESSOR_ROUNDS_PER_BATCH = 4
DEAD_LETTER_PARTITIONS = 1


def batch_size(settings: Settings, role: Role) -> int:
    """Records per batch: few for the processor, so a batch stays short."""
    if role is not Role.PROCESSOR:
        return settings.kafka_batch_size
    workers = max(1, settings.processing_workers)
    return max(1, min(settings.kafka_batch_size, PROCESSOR_ROUNDS_PER_BATCH * workers))


def max_poll_interval_ms(settings: Settings, role: Role) -> int:
    """Long enough for the role's slowest batch, never shorter than the default."""
    from infra.kafka import MAX_POLL_INTERVAL_MS
    from workers.processor import TIME_LIMIT_GRACE

    if role is not Role.PROCESSOR:
        return MAX_POLL_INTERVAL_MS
    rounds = math.ceil(batch_size(settings, role) / max(1, settings.processing_workers))
    per_image = settings.processing_time_limit + TIME_LIMIT_GRACE
    return max(MAX_POLL_INTERVAL_MS, math.ceil((rounds + 1) * per_image * 1000))


def _brokers(settings: Settings) -> str:
    if settings.kafka_brokers is None:
        raise SettingsError("Kafka is not configured: set KAFKA_BROKERS")
    return settings.kafka_brokers


async def ensure_topics(settings: Settings) -> None:
    """Create the event topic and the dead-letter topic unless they exist; this is also
    the check, at start, that Kafka answers."""
    from infra.kafka import ensure_topic

    brokers = _brokers(settings)
    await ensure_topic(brokers, settings.kafka_topic, settings.kafka_partitions)
    await ensure_topic(brokers, settings.dead_letter_topic, DEAD_LETTER_PARTITIONS)


@contextlib.asynccontextmanager
async def kafka_publisher(
    settings: Settings, topic: str, role: str
) -> AsyncIterator[EventPublisher]:
    """A started publisher to one topic, stopped on the way out even when cancelled."""
    from infra.kafka import EventPublisher

    publisher = EventPublisher(
        _brokers(settings),
        topic,
        enable_idempotence=settings.kafka_idempotent,
        client_id=f"imgproc-{role}",
    )
    await publisher.start()
    try:
        yield publisher
    finally:
        with anyio.CancelScope(shield=True):
            await publisher.stop()


@contextlib.asynccontextmanager
async def kafka_feed(stores: Stores, role: Role, worker: Consumer) -> AsyncIterator[KafkaFeed]:
    """The consumer fed by the role's consumer group, joined; it leaves on the way out."""
    from infra.kafka import EventConsumer
    from workers.kafka_feed import KafkaFeed

    settings = stores.settings
    await ensure_topics(settings)
    async with kafka_publisher(settings, settings.dead_letter_topic, role) as dead_letters:
        member = EventConsumer(
            _brokers(settings),
            settings.kafka_topic,
            settings.group_id(role),
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
            max_poll_interval_ms=max_poll_interval_ms(settings, role),
            client_id=f"imgproc-{role}",
        )
        feed = KafkaFeed(
            member, worker, dead_letters=dead_letters, batch_size=batch_size(settings, role)
        )
        await feed.start()
        try:
            yield feed
        finally:
            await feed.stop()


# --- the roles ---------------------------------------------------------------------


async def serve(settings: Settings, *, embedded: bool = False) -> None:
    """The API; embedded (`imgproc dev`), with the processor, projector and janitor in the
    same process, each following the event log and woken as soon as a command is
    recorded, on a database migrated first."""
    from api.app import create_app
    from cli.processes.http import check_can_listen, serve_http

    check_can_listen(settings.host, settings.port)  # before the data directory is created
    if not embedded:
        check_migrated(settings)
    async with contextlib.AsyncExitStack() as opened:
        blobs = await opened.enter_async_context(open_blob_store(settings))
        stores = opened.enter_context(open_stores(settings, migrate=embedded, blobs=blobs))
        queries = await opened.enter_async_context(open_read_queries(settings, stores.database))
        projected = Pulse() if embedded else None
        app = create_app(api_services(stores, queries, projected=projected))
        if not embedded:
            await serve_http(app, settings)
            return
        stores.doorbell.bind(asyncio.get_running_loop())
        log.info(
            "data in %s, %s, blobs in %s",
            settings.data_dir,
            "PostgreSQL" if settings.uses_postgres else "SQLite",
            f"S3 bucket {settings.bucket}" if settings.uses_s3 else settings.blob_dir,
        )
        followers = [
            log_follower(stores, consumer(role, stores, projected=projected)) for role in CONSUMERS
        ]
        background: list[Callable[[], Coroutine[Any, Any, None]]] = [
            partial(wake_on_notify, stores),
            *(follower.run for follower in followers),
        ]
        await serve_http(app, settings, background)


async def run_consumer(role: Role, settings: Settings) -> None:
    """One consumer until cancelled, fed by Kafka when it is configured, else by the log."""
    check_migrated(settings)
    async with contextlib.AsyncExitStack() as opened:
        # The projector never touches blobs, so it does not need the store to be up.
        blobs = (
            None
            if role is Role.PROJECTOR
            else await opened.enter_async_context(open_blob_store(settings))
        )
        stores = opened.enter_context(open_stores(settings, blobs=blobs))
        worker = consumer(role, stores)
        if settings.uses_kafka:
            feed = await opened.enter_async_context(kafka_feed(stores, role, worker))
            log.info(
                "%s joined group %s on %s", role, settings.group_id(role), settings.kafka_topic
            )
            await feed.run()
        else:
            stores.doorbell.bind(asyncio.get_running_loop())
            log.info("%s following the event log", role)
            async with anyio.create_task_group() as group:
                group.start_soon(wake_on_notify, stores)
                group.start_soon(log_follower(stores, worker).run)


LISTEN_RETRY_PAUSE = 1.0  # seconds between attempts to listen again for NOTIFY


async def wake_on_notify(stores: Stores, *, retry_pause: float = LISTEN_RETRY_PAUSE) -> None:
    """Ring the followers' doorbell for every NOTIFY the event store sends (PostgreSQL),
    on one connection of its own, until cancelled, so that what other processes record
    wakes this one's followers at once. While that connection is down the followers poll
    the log at the configured interval, and it is opened again. On SQLite, which sends
    nothing, it returns at once and the followers poll."""
    channel = notification_channel(stores.commands)
    url = stores.settings.database_url
    if channel is None or url is None:
        return
    doorbell = stores.doorbell

    def listening() -> None:
        doorbell.set_listening(True)
        log.info("the event log's followers are woken by NOTIFY on %s", channel)

    while True:
        try:
            session = await PostgresSession.open(url)
            try:
                await session.listen(channel, doorbell.ring, on_listening=listening)
            finally:
                doorbell.set_listening(False)
                with anyio.CancelScope(shield=True):
                    await session.close()
        except DependencyUnavailable as e:
            log.warning("not hearing NOTIFY on %s, polling the event log meanwhile: %s", channel, e)
        await asyncio.sleep(retry_pause)


RELAY_LOCK_KEY = 0x696D6770726F6372  # "imgprocr"


async def run_relay(settings: Settings) -> None:
    if not settings.uses_kafka:
        raise SettingsError("the relay needs Kafka: set KAFKA_BROKERS")
    check_migrated(settings)
    with open_stores(settings) as stores:
        await ensure_topics(settings)
        async with kafka_publisher(settings, settings.kafka_topic, Role.RELAY) as publisher:
            await relay_events(stores, publisher)


async def relay_events(
    stores: Stores, publisher: EventPublisher, *, poll_interval: float | None = None
) -> None:
    """Publish the log from the relay's stored position on, until cancelled.

    It wakes on PostgreSQL's NOTIFY, which the event store sends with every insert,
    and publishes at once; without NOTIFY (on SQLite) it polls, at `poll_interval`
    (the configured one unless given). One relay publishes at a time: each holds a
    session advisory lock while it works, and any others wait as standbys. Should that
    session be lost, the relay exits (non-zero) rather than risk publishing next to a
    standby that took over; the supervisor starts it again.
    """
    stores.doorbell.bind(asyncio.get_running_loop())
    channel = notification_channel(stores.commands)
    url = stores.settings.database_url
    relay = log_follower(stores, Relay(publisher), poll_interval=poll_interval)
    if channel is None or url is None:
        log.info("relay active, polling the event log every %ss", relay.poll_interval)
        await relay.run()
        return
    session = await PostgresSession.open(url)
    try:
        log.info("relay waiting to become the active one")
        await session.wait_for_lock(RELAY_LOCK_KEY)
        log.info("relay active, woken by NOTIFY on %s", channel)
        listening = partial(stores.doorbell.set_listening, True)
        async with anyio.create_task_group() as group:
            group.start_soon(
                partial(session.listen, channel, stores.doorbell.ring, on_listening=listening)
            )
            group.start_soon(relay.run)
    finally:
        with anyio.CancelScope(shield=True):
            await session.close()


async def republish(settings: Settings, log: EventLog, after: int, last: int) -> int:
    """Publish the events after position `after` up to `last` again, message for message
    as the relay does, for a consumer that joins late or lost its data; return how many."""
    published = 0
    pages = batches(log, after, settings.kafka_batch_size, up_to=last)
    async with kafka_publisher(settings, settings.kafka_topic, "republish") as publisher:
        relay = Relay(publisher)
        while batch := await anyio.to_thread.run_sync(next, pages, None):
            await relay.handle(batch)
            published += len(batch)
    return published


Main = Callable[[Settings], Coroutine[Any, Any, None]]

ROLES: dict[Role, Main] = {
    Role.API: serve,
    Role.DEV: partial(serve, embedded=True),
    Role.PROCESSOR: partial(run_consumer, Role.PROCESSOR),
    Role.PROJECTOR: partial(run_consumer, Role.PROJECTOR),
    Role.JANITOR: partial(run_consumer, Role.JANITOR),
    Role.RELAY: run_relay,
}


def run(role: Role, settings: Settings) -> None:
    """Run the role until signalled: its settings logged (secrets masked), its metrics
    served (the API's on its own /metrics, the others' on `metrics_port` when set),
    and a failure to start said in one line with exit status 1."""
    with exit_on_startup_error():
        if role is not Role.DEV:  # which says where its data is instead
            log_settings(role, settings)
        if role not in (Role.API, Role.DEV):
            serve_metrics(settings.host, settings.metrics_port)
        run_until_signalled(ROLES[role](settings))
