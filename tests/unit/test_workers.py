"""Processor, projector runner, janitor and log follower, on in-memory ports."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import threading
import time
from unittest.mock import patch
from uuid import UUID, uuid4

import pytest
from PIL import Image
from prometheus_client import REGISTRY

from commands.messages import DeleteImage
from domain.keys import image_prefix, original_key
from domain.spec import Spec
from domain.status import ImageStatus
from infra.errors import DependencyUnavailable
from infra.settings import Settings
from tests.fakes import FakePorts, an_upload, fake_ports, image_bytes, in_memory_event_store
from tests.waiting import eventually
from workers.follower import Doorbell, LogFollower
from workers.imaging import Rendered
from workers.janitor import Janitor
from workers.processor import Processor, renderer_for
from workers.projector import ProjectorRunner

SETTINGS = Settings()


async def uploaded(ports: FakePorts, data: bytes, spec: str | None = "resize:10x10") -> UUID:
    image_id = uuid4()
    await ports.blobs.put(original_key(image_id), data, "image/png")
    ports.commands.upload(an_upload(spec, image_id))
    return image_id


def event_types(ports: FakePorts, image_id: UUID) -> list[str]:
    return [e.type for e in ports.log.history(image_id)]


async def test_processing_records_one_result_however_often_the_request_arrives() -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes(40, 20))
    processor = Processor(ports.commands, ports.blobs, SETTINGS)
    batch = ports.log.read(0, 100)

    await processor.handle(batch)
    await processor.handle(batch)
    await asyncio.gather(processor.handle(batch), processor.handle(batch))

    assert event_types(ports, image_id).count("ProcessingCompleted") == 1
    image = ports.commands.image(image_id)
    assert image.status is ImageStatus.PROCESSED
    with Image.open(io.BytesIO(await ports.blobs.get(image.result_key or ""))) as result:
        assert result.size == (10, 5)


async def test_a_processed_image_is_counted_once_with_its_duration() -> None:
    results, durations = "imgproc_processing_results_total", "imgproc_processing_duration_seconds"
    processed = {"outcome": "processed"}
    results_before = REGISTRY.get_sample_value(results, processed) or 0.0
    timed_before = REGISTRY.get_sample_value(f"{durations}_count") or 0.0
    ports = fake_ports()
    await uploaded(ports, image_bytes(40, 20))
    processor = Processor(ports.commands, ports.blobs, SETTINGS)
    batch = ports.log.read(0, 100)

    await processor.handle(batch)
    await processor.handle(batch)

    assert REGISTRY.get_sample_value(results, processed) == results_before + 1
    assert REGISTRY.get_sample_value(f"{durations}_count") == timed_before + 1


async def test_a_processed_image_accounts_for_the_time_of_each_stage() -> None:
    stages = ("load", "read", "render", "wait", "decode", "operations", "encode", "write", "record")

    def counts() -> list[float]:
        name = "imgproc_processing_stage_seconds_count"
        return [REGISTRY.get_sample_value(name, {"stage": s}) or 0.0 for s in stages]

    before = counts()
    ports = fake_ports()
    await uploaded(ports, image_bytes(40, 20))
    await Processor(ports.commands, ports.blobs, SETTINGS).handle(ports.log.read(0, 100))
    assert [after - was for after, was in zip(counts(), before, strict=True)] == [1.0] * len(stages)


async def test_two_processors_racing_on_one_request_record_one_result() -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes(40, 20))
    batch = ports.log.read(0, 100)
    first = Processor(ports.commands, ports.blobs, SETTINGS)
    second = Processor(ports.commands, ports.blobs, SETTINGS)
    await asyncio.gather(first.handle(batch), second.handle(batch))
    assert event_types(ports, image_id).count("ProcessingCompleted") == 1


async def test_an_image_that_cannot_be_decoded_fails_with_a_reason() -> None:
    ports = fake_ports()
    whole = image_bytes(400, 300, "JPEG")
    image_id = await uploaded(ports, whole[: len(whole) // 3])
    await Processor(ports.commands, ports.blobs, SETTINGS).handle(ports.log.read(0, 100))
    image = ports.commands.image(image_id)
    assert image.status is ImageStatus.FAILED
    assert image.error


async def test_an_unexpected_error_fails_the_request_at_once_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes())
    calls: list[int] = []

    def broken(data: bytes, spec):  # type: ignore[no-untyped-def]
        calls.append(1)
        raise RuntimeError("worker hiccup")

    with caplog.at_level(logging.ERROR, logger="workers.processor"):
        await Processor(ports.commands, ports.blobs, SETTINGS, renderer=broken).handle(
            ports.log.read(0, 100)
        )
    image = ports.commands.image(image_id)
    assert image.status is ImageStatus.FAILED
    assert image.error == "internal error: RuntimeError"
    assert len(calls) == 1
    assert len([r for r in caplog.records if r.exc_info is not None]) == 1
    assert "worker hiccup" in caplog.text


async def test_a_job_over_its_time_limit_fails_and_the_worker_goes_on() -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes())

    def stuck(data: bytes, spec):  # type: ignore[no-untyped-def]
        time.sleep(0.5)  # one long Pillow call that never reaches a deadline check

    settings = Settings(processing_time_limit=0.01)
    with patch("workers.processor.TIME_LIMIT_GRACE", 0.05):
        await Processor(ports.commands, ports.blobs, settings, renderer=stuck).handle(
            ports.log.read(0, 100)
        )
    image = ports.commands.image(image_id)
    assert image.status is ImageStatus.FAILED
    assert image.error == "processing took longer than 0.01 s"


async def test_renders_past_their_time_limit_still_count_against_the_concurrency() -> None:
    ports = fake_ports()
    for _ in range(3):
        await uploaded(ports, image_bytes())
    running: list[int] = []
    finished: list[int] = []
    most = 0
    lock = threading.Lock()

    def stuck(data: bytes, spec):  # type: ignore[no-untyped-def]
        nonlocal most
        with lock:
            running.append(1)
            most = max(most, len(running))
        time.sleep(0.1)  # a render that overruns its time limit
        with lock:
            running.pop()
            finished.append(1)

    settings = Settings(processing_time_limit=0.01, processing_workers=1)
    with patch("workers.processor.TIME_LIMIT_GRACE", 0.01):
        await Processor(ports.commands, ports.blobs, settings, renderer=stuck).handle(
            ports.log.read(0, 100)
        )
    await eventually(lambda: len(finished) == 3, "the overrunning renders to end")
    assert most == 1


def hangs_on_blur(data: bytes, spec: Spec) -> Rendered:
    """Renders in a worker process; a blur never ends, as a Pillow call stuck in C code."""
    if "blur" in spec.canonical:
        time.sleep(3600)
    return renderer_for(SETTINGS)(data, spec)


def dies_on_blur(data: bytes, spec: Spec) -> Rendered:
    """Renders in a worker process; a blur kills the process, as a crash in C code would."""
    if "blur" in spec.canonical:
        os.kill(os.getpid(), signal.SIGKILL)
    return renderer_for(SETTINGS)(data, spec)


def fails_in_worker(data: bytes, spec: Spec) -> Rendered:
    raise RuntimeError("worker hiccup")


async def test_a_render_process_past_its_time_limit_is_killed_and_its_slot_reused() -> None:
    ports = fake_ports()
    stuck = await uploaded(ports, image_bytes(), "blur:1")
    after = await uploaded(ports, image_bytes(40, 20))
    settings = Settings(processing_time_limit=0.2, processing_workers=1)
    processor = Processor(ports.commands, ports.blobs, settings, hangs_on_blur, processes=True)
    with patch("workers.processor.TIME_LIMIT_GRACE", 0.1):
        await processor.handle(ports.log.read(0, 100))
    assert ports.commands.image(stuck).error == "processing took longer than 0.2 s"
    assert ports.commands.image(after).status is ImageStatus.PROCESSED


async def test_a_render_process_that_dies_fails_its_request_and_is_replaced() -> None:
    ports = fake_ports()
    crashing = await uploaded(ports, image_bytes(), "blur:1")
    after = await uploaded(ports, image_bytes(40, 20))
    settings = Settings(processing_workers=1)
    processor = Processor(ports.commands, ports.blobs, settings, dies_on_blur, processes=True)
    await processor.handle(ports.log.read(0, 100))
    assert ports.commands.image(crashing).error == "internal error: WorkerDied"
    assert ports.commands.image(after).status is ImageStatus.PROCESSED


async def test_an_error_in_a_render_process_fails_the_request_and_is_logged_with_its_trace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes())
    processor = Processor(ports.commands, ports.blobs, SETTINGS, fails_in_worker, processes=True)
    with caplog.at_level(logging.ERROR, logger="workers.processor"):
        await processor.handle(ports.log.read(0, 100))
    assert ports.commands.image(image_id).error == "internal error: RuntimeError"
    assert "worker hiccup" in caplog.text and "fails_in_worker" in caplog.text


async def test_renders_run_in_threads_when_the_settings_say_so() -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes(40, 20))
    threads = Settings(processing_pool="threads")
    await Processor(ports.commands, ports.blobs, threads).handle(ports.log.read(0, 100))
    assert ports.commands.image(image_id).status is ImageStatus.PROCESSED


async def test_a_store_that_is_down_records_nothing_and_the_request_waits() -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes())
    ports.blobs.failing.add("get")
    processor = Processor(ports.commands, ports.blobs, SETTINGS)
    with pytest.raises(DependencyUnavailable):
        await processor.handle(ports.log.read(0, 100))
    assert ports.commands.image(image_id).status is ImageStatus.PROCESSING

    ports.blobs.failing.clear()
    await processor.handle(ports.log.read(0, 100))
    assert ports.commands.image(image_id).status is ImageStatus.PROCESSED


async def test_a_deleted_image_is_not_processed() -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes())
    ports.commands.delete(DeleteImage(image_id=image_id))
    await Processor(ports.commands, ports.blobs, SETTINGS).handle(ports.log.read(0, 100))
    assert "ProcessingCompleted" not in event_types(ports, image_id)


async def test_the_janitor_removes_every_blob_of_a_deleted_image() -> None:
    ports = fake_ports()
    kept = await uploaded(ports, image_bytes())
    gone = await uploaded(ports, image_bytes())
    await ports.blobs.put(f"{image_prefix(gone)}results/x.png", b"x", "image/png")
    ports.commands.delete(DeleteImage(image_id=gone))
    await Janitor(ports.blobs).handle(ports.log.read(0, 100))
    assert [k for k in ports.blobs.objects if k.startswith(image_prefix(gone))] == []
    assert await ports.blobs.exists(original_key(kept))


async def test_followers_bring_the_read_model_up_to_date_and_survive_redelivery() -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes(40, 20))
    processor = LogFollower(
        ports.log, ports.tracking, Processor(ports.commands, ports.blobs, SETTINGS)
    )
    projector = LogFollower(ports.log, ports.tracking, ProjectorRunner(ports.read_model, ports.log))
    await processor.drain()
    await projector.drain()
    row = ports.read_model.get(image_id)
    assert row is not None and row.status is ImageStatus.PROCESSED
    assert ports.tracking.position("image_status") == ports.log.head()
    assert ports.tracking.position("processor") >= 2  # past the request it answered

    # A crash after the rows were written but before anything else: run it all again.
    before = ports.read_model.get(image_id)
    ports.tracking.set_position("image_status", 0)
    await projector.drain()
    assert ports.read_model.get(image_id) == before


async def test_a_result_recorded_by_the_processor_wakes_the_projector_at_once() -> None:
    doorbell = Doorbell()
    doorbell.bind(asyncio.get_running_loop())
    commands, log = in_memory_event_store(on_recorded=doorbell.ring)
    ports = FakePorts(commands=commands, log=log)
    never = 60.0  # a poll would come far too late: only a ring can wake them in time
    followers = [
        LogFollower(ports.log, ports.tracking, consumer, doorbell=doorbell, poll_interval=never)
        for consumer in (
            Processor(ports.commands, ports.blobs, SETTINGS),
            ProjectorRunner(ports.read_model, ports.log),
        )
    ]
    tasks = [asyncio.create_task(follower.run()) for follower in followers]
    try:
        image_id = await uploaded(ports, image_bytes(40, 20))

        def processed() -> bool:
            row = ports.read_model.get(image_id)
            return row is not None and row.status is ImageStatus.PROCESSED

        await eventually(processed, "the projector to show the processor's result", within=10)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_projector_repairs_a_gap_from_the_event_store() -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes(40, 20))
    await Processor(ports.commands, ports.blobs, SETTINGS).handle(ports.log.read(0, 100))
    events = list(ports.log.read(0, 100))
    runner = ProjectorRunner(ports.read_model, ports.log)
    runner.apply_batch([events[0], events[2]])  # the ProcessingRequested went missing
    row = ports.read_model.get(image_id)
    assert row is not None and row.status is ImageStatus.PROCESSED and row.version == 3


async def test_a_follower_outlives_a_database_that_is_down_for_a_while() -> None:
    ports = fake_ports()
    image_id = await uploaded(ports, image_bytes(40, 20))
    positions = ports.tracking
    outage = {"reads": 3}
    real_position = positions.position

    def flaky_position(tracker: str) -> int:
        if outage["reads"] > 0:
            outage["reads"] -= 1
            raise DependencyUnavailable("postgres", "connection refused")
        return real_position(tracker)

    positions.position = flaky_position  # type: ignore[method-assign]
    follower = LogFollower(
        ports.log, positions, ProjectorRunner(ports.read_model, ports.log), retry_pause=0.01
    )
    task = asyncio.create_task(follower.run())
    await eventually(lambda: ports.read_model.get(image_id), "the row, after the outage", within=2)
    task.cancel()
    assert outage["reads"] == 0 and ports.read_model.get(image_id) is not None
    assert not task.done() or task.cancelled()


async def test_followers_count_the_events_their_consumer_handled() -> None:
    from prometheus_client import REGISTRY

    def handled() -> float:
        labels = {"consumer": "janitor"}
        return REGISTRY.get_sample_value("imgproc_events_handled_total", labels) or 0.0

    ports = fake_ports()
    await uploaded(ports, image_bytes())
    before = handled()
    await LogFollower(ports.log, ports.tracking, Janitor(ports.blobs)).drain()
    assert handled() - before == 2  # ImageUploaded and ProcessingRequested
