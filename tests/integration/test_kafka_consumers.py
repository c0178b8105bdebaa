"""The processor and the projector fed by Kafka consumer groups, against PostgreSQL
and a Kafka-compatible broker: each event's effect happens once, whatever Kafka
redelivers, loses or cannot decode. The feeds only deliver and commit offsets to
Kafka; the consumers skip what they have seen by (image id, version).

The consumers join their groups once for the module (joins are slow on the test
broker) and run in a background event loop; the tests drive them from outside,
as the API and the relay would.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from PIL import Image

from cli import bootstrap
from cli.bootstrap import Role, Stores, open_stores
from commands.messages import RequestProcessing
from domain.events import EventEnvelope, ProcessingCompleted
from domain.keys import original_key
from domain.spec import Spec
from domain.status import ImageStatus
from infra.errors import DependencyUnavailable
from infra.kafka import EventConsumer, EventPublisher
from infra.migrate import upgrade
from infra.settings import Settings
from tests.fakes import an_upload
from tests.servers import committed_offsets, postgres_database, tansu_broker
from workers.consumer import Consumer
from workers.follower import LogFollower
from workers.imaging import Rendered
from workers.kafka_feed import KafkaFeed
from workers.processor import Processor, Renderer, renderer_for
from workers.projector import ProjectorRunner
from workers.relay import Relay, message

T = TypeVar("T")
PARTITIONS = 2
WITHIN = 45.0  # seconds for anything to happen (a group join on a busy machine included)


class Background:
    """An event loop in a thread: the consumers run there while the tests look on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def spawn(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = WITHIN) -> T:
        return self.spawn(coroutine).result(timeout)

    def make(self, factory: Callable[[], T]) -> T:
        """Build on the loop: aiokafka's clients must be created inside it."""

        async def build() -> T:
            return factory()

        return self.run(build())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@dataclass
class Recording:
    """A consumer that remembers every event it was handed (after handling it)."""

    inner: Consumer
    seen: list[EventEnvelope] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = self.inner.name

    async def handle(self, batch: Sequence[EventEnvelope]) -> None:
        await self.inner.handle(batch)
        self.seen += batch

    def versions(self, image_id: UUID) -> list[int]:
        return [event.version for event in self.seen if event.image_id == image_id]


class Running:
    """A feed joined to its group and consuming in the background."""

    def __init__(self, background: Background, feed: KafkaFeed) -> None:
        self.background = background
        self.feed = feed
        background.run(feed.start())
        self._task = background.spawn(feed.run())

    def stop(self) -> None:
        self._task.cancel()
        self.background.run(self.feed.stop())


@dataclass
class World:
    settings: Settings
    core: Stores
    background: Background
    publisher: EventPublisher
    dead_letters: EventPublisher
    renders: list[str]
    outages: list[str]
    processor: Recording
    running: dict[str, Running]


def counting_renderer(renders: list[str], outages: list[str]) -> Renderer:
    """Renders and counts; while `outages` holds anything, fails as a lost dependency."""
    rendering = renderer_for(Settings())

    def render_and_count(data: bytes, spec: Spec) -> Rendered:
        renders.append(spec.canonical)
        if outages:
            raise DependencyUnavailable(outages.pop())
        return rendering(data, spec)

    return render_and_count


def feed(world: World, group: str, consumer: Consumer) -> KafkaFeed:
    """The consumer in a group, as the composition root builds it, but for the publisher
    of dead letters, which the test shares."""
    settings = world.settings
    member = EventConsumer(
        settings.kafka_brokers,
        settings.kafka_topic,
        settings.group_id(group),
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        rebalance_timeout_ms=settings.kafka_rebalance_timeout_ms,
    )
    return KafkaFeed(member, consumer, dead_letters=world.dead_letters)


def projector_feed(world: World, group: str = Role.PROJECTOR) -> tuple[Recording, KafkaFeed]:
    recording = Recording(ProjectorRunner(world.core.read_model, world.core.log))
    return recording, feed(world, group, recording)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with tansu_broker() as broker, postgres_database() as url:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("kafka-consumers"),
            database_url=url,
            kafka_brokers=broker,
            kafka_topic=f"image-events-{uuid.uuid4().hex[:8]}",
            kafka_partitions=PARTITIONS,
            # The test broker: no idempotent producer, and group joins as short as it allows.
            kafka_idempotent=False,
            kafka_session_timeout_ms=2_000,
            kafka_heartbeat_interval_ms=300,
            kafka_rebalance_timeout_ms=2_000,
        )
        upgrade(settings)
        background = Background()
        with open_stores(settings) as core:
            background.run(bootstrap.ensure_topics(settings))
            publisher = background.make(
                lambda: EventPublisher(broker, settings.kafka_topic, enable_idempotence=False)
            )
            dead_letters = background.make(
                lambda: EventPublisher(broker, settings.dead_letter_topic, enable_idempotence=False)
            )
            background.run(publisher.start())
            background.run(dead_letters.start())
            renders: list[str] = []
            outages: list[str] = []
            world = World(
                settings=settings,
                core=core,
                background=background,
                publisher=publisher,
                dead_letters=dead_letters,
                renders=renders,
                outages=outages,
                processor=Recording(
                    Processor(
                        core.commands,
                        core.blobs,
                        settings,
                        renderer=counting_renderer(renders, outages),
                    )
                ),
                running={},
            )
            _, projecting = background.make(lambda: projector_feed(world))
            world.running["processor"] = Running(
                background, background.make(lambda: feed(world, Role.PROCESSOR, world.processor))
            )
            world.running["projector"] = Running(background, projecting)
            try:
                yield world
            finally:
                for running in world.running.values():
                    running.stop()
                background.run(publisher.stop())
                background.run(dead_letters.stop())
        background.close()


# --- helpers ------------------------------------------------------------------------


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(buffer, "JPEG")
    return buffer.getvalue()


def upload(world: World, spec: str | None = "resize:32x32") -> UUID:
    image_id = uuid4()
    world.background.run(world.core.blobs.put(original_key(image_id), jpeg(), "image/jpeg"))
    return world.core.commands.upload(an_upload(spec, image_id))


def relay(world: World) -> None:
    """Publish what has been recorded since the relay's stored position."""
    follower = LogFollower(world.core.log, world.core.tracking, Relay(world.publisher))
    world.background.run(follower.drain())


def publish(world: World, messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> None:
    world.background.run(world.publisher.publish_batch(messages))


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while not check():
        assert time.monotonic() < deadline, f"not {what} within {WITHIN}s"
        time.sleep(0.05)


def status(world: World, image_id: UUID) -> ImageStatus:
    return world.core.commands.image(image_id).status


def completions(world: World, image_id: UUID) -> int:
    history = world.core.log.history(image_id)
    return sum(isinstance(event.data, ProcessingCompleted) for event in history)


async def _read(
    world: World, topic: str, partitions: int
) -> tuple[dict[int, int], list[ConsumerRecord[bytes, bytes]]]:
    """The next offset of each partition, and every record, read without a group.

    The ends come from fetching (the high watermark): the test broker's answer
    to a ListOffsets request falls short after a multi-record batch.
    """
    reader = AIOKafkaConsumer(bootstrap_servers=world.settings.kafka_brokers)
    await reader.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        reader.assign(assigned)
        await reader.seek_to_beginning(*assigned)
        records: list[ConsumerRecord[bytes, bytes]] = []
        ends: dict[int, int] = {}
        while len(ends) < partitions or len(records) < sum(ends.values()):
            batches = await reader.getmany(*assigned, timeout_ms=200)
            records += [record for batch in batches.values() for record in batch]
            ends = {tp.partition: hw for tp in assigned if (hw := reader.highwater(tp)) is not None}
        return ends, records
    finally:
        await reader.stop()


def end_offsets(world: World) -> dict[int, int]:
    return world.background.run(_read(world, world.settings.kafka_topic, PARTITIONS))[0]


def dead_lettered(world: World) -> list[ConsumerRecord[bytes, bytes]]:
    return world.background.run(_read(world, world.settings.dead_letter_topic, 1))[1]


def committed(world: World, role: str) -> dict[int, int]:
    settings = world.settings
    group, topic = settings.group_id(role), settings.kafka_topic
    offsets = committed_offsets(settings.kafka_brokers, group, topic, PARTITIONS)
    return {p: offset or 0 for p, offset in world.background.run(offsets).items()}


# --- the processor ------------------------------------------------------------------


def test_the_processor_answers_a_request_and_commits_once_it_is_recorded(world: World) -> None:
    image_id = upload(world)
    relay(world)

    eventually(lambda: status(world, image_id) is ImageStatus.PROCESSED, "processed")
    eventually(lambda: committed(world, "processor") == end_offsets(world), "committed")
    assert completions(world, image_id) == 1
    assert set(world.processor.versions(image_id)) == {1, 2}


def test_a_redelivered_request_is_skipped_and_changes_nothing(world: World) -> None:
    image_id = upload(world)
    relay(world)
    eventually(lambda: status(world, image_id) is ImageStatus.PROCESSED, "processed")
    renders = len(world.renders)

    publish(world, [message(event) for event in world.core.log.history(image_id)[:2]])

    eventually(lambda: committed(world, "processor") == end_offsets(world), "committed")
    # Handed over again, the repeats find the request answered: nothing is rendered.
    assert world.processor.versions(image_id).count(2) >= 2
    assert len(world.renders) == renders
    assert completions(world, image_id) == 1


def test_a_batch_that_fails_is_delivered_again(world: World) -> None:
    world.outages.append("blob store")
    image_id = upload(world, spec="resize:16x16")
    relay(world)

    eventually(lambda: status(world, image_id) is ImageStatus.PROCESSED, "processed")
    assert world.renders.count("resize:16x16") == 2  # failed once, then done
    assert completions(world, image_id) == 1


def test_a_request_whose_upload_was_lost_on_the_way_is_still_answered(world: World) -> None:
    image_id = upload(world, spec=None)
    world.core.commands.request_processing(RequestProcessing(image_id=image_id, spec="grayscale"))
    _, requested = world.core.log.history(image_id)
    world.core.tracking.set_position("relay", requested.position)  # the relay moves on...

    publish(world, [message(requested)])  # ...but the upload never reached the topic

    eventually(lambda: status(world, image_id) is ImageStatus.PROCESSED, "processed")
    assert 1 not in world.processor.versions(image_id)  # the aggregate knows the rest
    assert completions(world, image_id) == 1


def test_an_undecodable_message_is_dead_lettered_and_consumption_goes_on(world: World) -> None:
    before = len(dead_lettered(world))
    publish(world, [(b"junk", b"\x00not an event", [("type", b"Mystery")])])
    image_id = upload(world)
    relay(world)

    eventually(lambda: status(world, image_id) is ImageStatus.PROCESSED, "processed")
    eventually(lambda: len(dead_lettered(world)) == before + 2, "dead-lettered by both groups")
    for letter in dead_lettered(world)[before:]:
        headers = dict(letter.headers)
        assert letter.key == b"junk" and letter.value == b"\x00not an event"
        assert headers["type"] == b"Mystery"
        assert headers["error"].startswith(b"undecodable event:")
        assert headers["source"].startswith(world.settings.kafka_topic.encode() + b"/")


# --- the projector ------------------------------------------------------------------


def rows_processed(world: World, image_ids: Sequence[UUID]) -> bool:
    rows = world.core.read_model.get_many(image_ids)
    return all(
        image_id in rows and rows[image_id].status is ImageStatus.PROCESSED
        for image_id in image_ids
    )


def processed(world: World) -> UUID:
    """An image uploaded and processed, every event of it published."""
    image_id = upload(world)
    relay(world)
    eventually(lambda: status(world, image_id) is ImageStatus.PROCESSED, "processed")
    relay(world)
    return image_id


def test_the_projector_commits_its_offsets_once_its_rows_are_written(world: World) -> None:
    image_id = processed(world)

    eventually(lambda: rows_processed(world, [image_id]), "projected")
    eventually(lambda: committed(world, "projector") == end_offsets(world), "committed")
    row = world.core.read_model.get(image_id)
    assert row is not None and row.version == len(world.core.log.history(image_id))


def test_a_restarted_projector_resumes_from_its_committed_offsets(world: World) -> None:
    earlier = processed(world)
    eventually(lambda: rows_processed(world, [earlier]), "projected")
    eventually(lambda: committed(world, "projector") == end_offsets(world), "offsets committed")
    world.running.pop("projector").stop()  # the process is killed, and comes back

    restarted, again = world.background.make(lambda: projector_feed(world))
    world.running["projector"] = Running(world.background, again)
    later = processed(world)

    eventually(lambda: rows_processed(world, [later]), "projected after the restart")
    handed = {(event.image_id, event.version) for event in restarted.seen}
    # It went on from its committed offsets, not from the start of the topic: at most the
    # last batch before the stop is seen again after a rebalance.
    assert {image_id for image_id, _ in handed} <= {earlier, later}, handed


def test_a_projector_that_reads_the_whole_topic_again_changes_nothing(world: World) -> None:
    earlier = processed(world)
    eventually(lambda: rows_processed(world, [earlier]), "projected")
    world.running.pop("projector").stop()  # the process is killed...
    before = world.core.read_model.get(earlier)

    # ...and comes back in a group that never committed anything, so it reads the
    # topic from the start: every event it has applied is handed over again.
    group = f"projector-{uuid.uuid4().hex[:6]}"
    restarted, again = world.background.make(lambda: projector_feed(world, group))
    world.running["projector"] = Running(world.background, again)
    later = processed(world)

    eventually(lambda: rows_processed(world, [later]), "projected after the restart")
    assert earlier in {event.image_id for event in restarted.seen}
    assert world.core.read_model.get(earlier) == before
