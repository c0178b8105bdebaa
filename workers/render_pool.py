"""Renders in worker processes, one job per process at a time, beyond the reach of the GIL.

Pillow releases the GIL inside most of its C code, but the pipeline's Python between
the calls, and the service around it (HTTP, the event store, the followers), all share
one interpreter lock. A worker process renders with its own, and a job that overruns
its time limit can be stopped: its process is killed and a fresh one takes its place.
Threads could only be abandoned, holding a core and the job's memory until they end.

A worker is the slot: a job holds it from sending its input until its reply arrives,
or until the process is dead. The renderer and its arguments cross by pickle, so the
renderer is a module-level function (or a partial of one).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import pickle
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

import anyio.to_thread

from domain.spec import Spec
from infra import metrics
from workers.imaging import Rendered

Renderer = Callable[[bytes, Spec], Rendered]

# Imported once by the fork server, so each worker starts with Pillow and the pipeline loaded.
PRELOAD = ["workers.imaging"]


class WorkerDied(RuntimeError):
    """The worker process ended during a job (killed by the kernel, or a crash in C code)."""


class RenderFailed(RuntimeError):
    """Stands for an error of the renderer's that could not be sent back as it was."""


class _Worker:
    def __init__(self, context: BaseContext, renderer: Renderer) -> None:
        self.context = context
        self.renderer = renderer
        self.process: Any = None
        self.connection: Connection | None = None

    def start(self) -> None:
        ours, theirs = self.context.Pipe()
        process = self.context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(theirs, self.renderer), name="render", daemon=True
        )
        process.start()
        theirs.close()
        self.process, self.connection = process, ours
        # Ready once the renderer is loaded: starting is not part of any job's time.
        if _receive(self) != ("ready", None):
            raise WorkerDied("the render process did not start")

    def stop(self) -> None:
        """Kill the process now; it is reaped when the worker is next started."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self.process is not None:
            self.process.kill()

    def restart(self) -> None:
        if self.process is not None:
            self.stop()
            self.process.join()
            self.process.close()
            self.process = None
        self.start()


class RenderPool:
    """`workers` processes, started on first use; `render` waits for a free one."""

    def __init__(self, renderer: Renderer, workers: int, method: str = "forkserver") -> None:
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload(PRELOAD)
        self._workers = [_Worker(context, renderer) for _ in range(workers)]
        self._idle: asyncio.Queue[_Worker] | None = None

    async def render(self, data: bytes, spec: Spec, within: float) -> Rendered:
        """The renderer's result or its exception; TimeoutError once `within` seconds passed,
        the job's process then killed. A cancelled job's process is killed too."""
        if self._idle is None:
            self._idle = asyncio.Queue()
            for worker in self._workers:
                self._idle.put_nowait(worker)
        with metrics.processing_stage.labels(stage="wait").time():
            worker = await self._idle.get()
        replied = False
        try:
            if worker.connection is None:
                await anyio.to_thread.run_sync(worker.restart)
            assert worker.connection is not None
            await anyio.to_thread.run_sync(_send, worker.connection, data, spec)
            await asyncio.wait_for(_readable(worker.connection), within)
            outcome, value = await anyio.to_thread.run_sync(_receive, worker)
            replied = True
        finally:
            if not replied:
                worker.stop()
            self._idle.put_nowait(worker)
        if outcome == "error":
            raise value
        result: Rendered = value
        return result

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()


def _send(connection: Connection, data: bytes, spec: Spec) -> None:
    connection.send(spec)
    connection.send_bytes(data)  # as it is: no pickling, no copy on this side


def _receive(worker: _Worker) -> tuple[str, Any]:
    assert worker.connection is not None
    try:
        reply: tuple[str, Any] = worker.connection.recv()
    except (EOFError, OSError):
        worker.process.join(1.0)
        code = worker.process.exitcode
        raise WorkerDied(f"the render process ended during the job (exit code {code})") from None
    return reply


def _readable(connection: Connection) -> asyncio.Future[None]:
    """Done when the connection has data, or its other end has closed."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    descriptor = connection.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(descriptor, wake)
    ready.add_done_callback(lambda _: loop.remove_reader(descriptor))
    return ready


def _serve(connection: Connection, renderer: Renderer) -> None:
    """A worker process: render each job received, reply with the result or the error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    connection.send(("ready", None))
    while True:
        try:
            spec = connection.recv()
            data = connection.recv_bytes()
        except (EOFError, OSError):
            return  # the parent is gone, or has let us go
        try:
            reply: tuple[str, Any] = ("ok", renderer(data, spec))
        except Exception as error:
            reply = ("error", _portable(error))
        del data
        connection.send(reply)


def _portable(error: Exception) -> Exception:
    """The error with the worker's traceback as a note, or a stand-in naming it when it
    cannot cross to the parent."""
    note = "".join(traceback.format_exception(error)).rstrip()
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        error = RenderFailed(f"{type(error).__name__}: {error}")
    with contextlib.suppress(Exception):
        error.add_note(f"in the render process:\n{note}")
    return error
