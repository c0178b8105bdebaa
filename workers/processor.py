"""The processor: answers each ProcessingRequested with a result or a failure."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import anyio
import anyio.to_thread

from commands.application import ImageCommands
from commands.blobs import BlobStore
from commands.errors import EventStoreUnavailable
from commands.messages import CompleteProcessing, FailProcessing
from domain.errors import ImageNotFound, InvalidSpec
from domain.events import EventEnvelope, ProcessingRequested
from domain.keys import result_key
from domain.spec import Spec, parse_spec
from domain.status import ImageStatus
from infra import metrics
from infra.errors import BlobNotFound, DependencyUnavailable
from infra.settings import Settings
from workers.imaging import ProcessingError, Rendered, render, result_extension
from workers.render_pool import RenderPool

log = logging.getLogger(__name__)

Renderer = Callable[[bytes, Spec], Rendered]

# How long past its own deadline a pipeline may run before we stop waiting: the
# pipeline checks the deadline between steps, not inside one Pillow call.
TIME_LIMIT_GRACE = 5.0


def renderer_for(settings: Settings) -> Renderer:
    return functools.partial(
        render,
        max_pixels=settings.max_pixels,
        max_dimension=settings.max_output_dimension,
        time_limit=settings.processing_time_limit,
    )


class Renders(Protocol):
    async def render(self, data: bytes, spec: Spec, within: float) -> Rendered:
        """The renderer's result or its exception; TimeoutError after `within` seconds."""
        ...


class ThreadRenders:
    """Renders in threads: for renderers that cannot cross to another process. A thread
    cannot be stopped, so a render that overran holds its slot until it really ends."""

    def __init__(self, renderer: Renderer, workers: int) -> None:
        self.renderer = renderer
        self._slots = asyncio.Semaphore(workers)
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="pipeline")

    async def render(self, data: bytes, spec: Spec, within: float) -> Rendered:
        with metrics.processing_stage.labels(stage="wait").time():
            await self._slots.acquire()
        job = asyncio.get_running_loop().run_in_executor(self._threads, self.renderer, data, spec)
        # The slot is freed when the thread ends, not when we stop waiting for it: a
        # render that overran, or whose batch was cancelled, still holds memory and a core.
        job.add_done_callback(self._free_slot)
        return await asyncio.wait_for(asyncio.shield(job), within)

    def _free_slot(self, job: asyncio.Future[Rendered]) -> None:
        self._slots.release()
        if not job.cancelled():
            job.exception()  # retrieved: nobody may be waiting for an abandoned job


class Processor:
    """Idempotent: a request already answered, superseded or deleted is skipped
    before any work, and the command layer records one answer per request.

    Renders run in `processing_workers` worker processes (or threads, as settings say); a
    renderer passed in runs in threads, unless `processes` says otherwise (it must then
    pickle)."""

    name = "processor"

    def __init__(
        self,
        commands: ImageCommands,
        blobs: BlobStore,
        settings: Settings,
        renderer: Renderer | None = None,
        *,
        processes: bool | None = None,
    ) -> None:
        self.commands = commands
        self.blobs = blobs
        self.time_limit = settings.processing_time_limit
        rendering = renderer or renderer_for(settings)
        workers = settings.processing_workers
        if processes is None:
            processes = renderer is None and settings.processing_pool == "processes"
        self.renders: Renders = (
            RenderPool(rendering, workers) if processes else ThreadRenders(rendering, workers)
        )

    async def handle(self, batch: Sequence[EventEnvelope]) -> None:
        requests = [e for e in batch if isinstance(e.data, ProcessingRequested)]
        try:
            async with anyio.create_task_group() as group:
                for event in requests:
                    group.start_soon(self.process, event)
        except ExceptionGroup as failures:
            # The batch fails as a whole and is delivered again; say why plainly.
            raise failures.exceptions[0] from None

    async def process(self, event: EventEnvelope) -> None:
        assert isinstance(event.data, ProcessingRequested)
        request_no = event.data.request_no
        clock = Stages()
        try:
            image = await anyio.to_thread.run_sync(self.commands.image, event.image_id)
        except ImageNotFound:
            return
        if not image.awaits(request_no):
            return
        clock.lap("load")
        try:
            spec = parse_spec(event.data.spec)
            original = await self.blobs.get(image.original_key)
            clock.lap("read")
            with metrics.processing_duration.time():
                rendered = await self._render(original, spec)
            clock.lap("render")
        except (InvalidSpec, ProcessingError) as e:
            await self._fail(event, request_no, str(e))
            return
        except BlobNotFound:
            await self._fail(event, request_no, "the original image is missing")
            return
        key = result_key(event.image_id, spec.digest, result_extension(rendered.format))
        await self.blobs.put(key, rendered.data, rendered.picture.content_type)
        clock.lap("write")
        recorded = await anyio.to_thread.run_sync(
            self.commands.complete_processing,
            CompleteProcessing(
                image_id=event.image_id,
                request_no=request_no,
                result_key=key,
                result=rendered.picture,
            ),
        )
        clock.lap("record")
        if recorded:
            clock.observe(rendered.stages)
            metrics.processing_results.labels(outcome="processed").inc()
            log.info(
                "image %s request %d processed: %s %dx%d, %d frame(s), %d bytes, "
                "peak working memory %.1f MiB",
                event.image_id,
                request_no,
                rendered.format,
                rendered.picture.width,
                rendered.picture.height,
                rendered.frames,
                len(rendered.data),
                rendered.peak_bytes / 2**20,
            )
        else:
            await self._discard_if_deleted(event, key)

    async def _render(self, original: bytes, spec: Spec) -> Rendered:
        """An error the renderer did not expect fails the request, logged here once; a lost
        dependency is raised instead, so that the request is delivered again."""
        try:
            return await self.renders.render(original, spec, self.time_limit + TIME_LIMIT_GRACE)
        except TimeoutError:
            raise ProcessingError(f"processing took longer than {self.time_limit:g} s") from None
        except (ProcessingError, DependencyUnavailable, EventStoreUnavailable):
            raise
        except Exception as e:
            log.exception("processing failed")
            raise ProcessingError(f"internal error: {type(e).__name__}") from e

    async def _fail(self, event: EventEnvelope, request_no: int, reason: str) -> None:
        log.info("image %s request %d failed: %s", event.image_id, request_no, reason)
        recorded = await anyio.to_thread.run_sync(
            self.commands.fail_processing,
            FailProcessing(image_id=event.image_id, request_no=request_no, reason=reason),
        )
        if recorded:
            metrics.processing_results.labels(outcome="failed").inc()

    async def _discard_if_deleted(self, event: EventEnvelope, key: str) -> None:
        """The image was deleted while we worked: the janitor may have swept
        already, so our fresh result would be left behind."""
        try:
            image = await anyio.to_thread.run_sync(self.commands.image, event.image_id)
        except ImageNotFound:
            return
        if image.status is ImageStatus.DELETED:
            await self.blobs.delete(key)


class Stages:
    """The time one image spends in each stage, observed once its result is recorded."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = now - self._last
        self._last = now

    def observe(self, inside: Mapping[str, float]) -> None:
        for stage, seconds in (self.seconds | dict(inside)).items():
            metrics.processing_stage.labels(stage=stage).observe(seconds)
