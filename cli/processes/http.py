"""Serving the API with uvicorn, alongside any background work of the same process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

import anyio
import uvicorn
from litestar import Litestar

from infra.settings import Settings

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn, minus its signal handling: the process owns Ctrl-C and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_http(
    app: Litestar,
    settings: Settings,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
) -> None:
    """Serve until SIGTERM or Ctrl-C: requests in flight finish, then the background
    work is cancelled."""
    server = _Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
            lifespan="on",
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop, server, sig.name)
    async with anyio.create_task_group() as workers:
        for work in background:
            workers.start_soon(work)
        log.info("serving on http://%s:%d", settings.host, settings.port)
        await server.serve()
        workers.cancel_scope.cancel()


def _stop(server: uvicorn.Server, name: str) -> None:
    log.info("%s received: shutting down", name)
    server.should_exit = True
