"""Followers of the event log on PostgreSQL hear what other processes record: the event
store's NOTIFY wakes them at once, long before their next poll; while the connection
they listen on is down they poll, and they listen again once it is back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from cli.bootstrap import LISTEN_RETRY_PAUSE, Stores, log_follower, open_stores, wake_on_notify
from domain.events import EventEnvelope
from infra.settings import Settings
from tests.fakes import an_upload
from tests.servers import PostgresClones
from tests.waiting import eventually

pytestmark = pytest.mark.asyncio
pytest_plugins = ["tests.integration.backends"]  # migrated_postgres

NEVER = 60.0  # seconds: a poll interval no test waits for


@pytest.fixture
def settings(migrated_postgres: PostgresClones, tmp_path: Path) -> Iterator[Settings]:
    with migrated_postgres.database() as url:
        yield Settings(data_dir=tmp_path, database_url=url)


@pytest.fixture
def writer(settings: Settings) -> Iterator[Stores]:
    """Another process recording commands: nothing it does rings the follower's bell."""
    with open_stores(settings) as stores:
        yield stores


class Seen:
    """A consumer that notes which images it was handed events of."""

    name = "seen"

    def __init__(self) -> None:
        self.images: set[UUID] = set()

    async def handle(self, batch: Sequence[EventEnvelope]) -> None:
        self.images.update(event.image_id for event in batch)


@contextlib.asynccontextmanager
async def following(
    settings: Settings, *, poll_interval: float, retry_pause: float = LISTEN_RETRY_PAUSE
) -> AsyncIterator[tuple[Stores, Seen]]:
    """A process following the log, as `imgproc project` does without Kafka: one
    follower, woken by the NOTIFY its process listens for."""
    with open_stores(settings) as stores:
        stores.doorbell.bind(asyncio.get_running_loop())
        seen = Seen()
        follower = log_follower(stores, seen, poll_interval=poll_interval)
        tasks = [
            asyncio.create_task(wake_on_notify(stores, retry_pause=retry_pause)),
            asyncio.create_task(follower.run()),
        ]
        try:
            yield stores, seen
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def listeners(settings: Settings) -> set[int]:
    """The server processes of the sessions listening on the test database."""
    with psycopg.connect(str(settings.database_url), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query LIKE 'LISTEN %'"
        )
        return {pid for (pid,) in rows}


def cut_off(settings: Settings, pids: set[int]) -> None:
    """End those sessions from the server's side, as a restart or a failover would."""
    with psycopg.connect(str(settings.database_url), autocommit=True) as connection:
        for pid in pids:
            connection.execute("SELECT pg_terminate_backend(%s)", [pid])


async def test_notify_wakes_a_follower_long_before_its_next_poll(
    settings: Settings, writer: Stores
) -> None:
    async with following(settings, poll_interval=NEVER) as (stores, seen):
        await eventually(lambda: stores.doorbell.listening, "the follower's process to listen")

        image_id = await asyncio.to_thread(writer.commands.upload, an_upload(None))

        await eventually(lambda: image_id in seen.images, "the follower to be woken")


async def test_while_it_cannot_listen_a_follower_polls(settings: Settings, writer: Stores) -> None:
    async with following(settings, poll_interval=0.05, retry_pause=NEVER) as (stores, seen):
        await eventually(lambda: stores.doorbell.listening, "the follower's process to listen")
        cut_off(settings, listeners(settings))
        await eventually(lambda: not stores.doorbell.listening, "the lost connection noticed")

        image_id = await asyncio.to_thread(writer.commands.upload, an_upload(None))

        await eventually(lambda: image_id in seen.images, "the follower to find it, polling")


async def test_a_follower_listens_again_once_its_connection_is_back(
    settings: Settings, writer: Stores
) -> None:
    async with following(settings, poll_interval=NEVER, retry_pause=0.05) as (stores, seen):
        await eventually(lambda: stores.doorbell.listening, "the follower's process to listen")
        first = listeners(settings)
        cut_off(settings, first)
        await eventually(
            lambda: stores.doorbell.listening and listeners(settings) - first,
            "the follower's process to listen on a new connection",
        )

        image_id = await asyncio.to_thread(writer.commands.upload, an_upload(None))

        await eventually(lambda: image_id in seen.images, "the follower to be woken")
