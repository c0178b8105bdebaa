"""`imgproc dev`: API, processor, projector and janitor in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import anyio
import uvicorn

from api.app import create_app
from cli.bootstrap import api_services, log_followers, open_core
from infra.settings import Settings

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn, minus its signal handling: the service owns Ctrl-C and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_embedded(settings: Settings) -> None:
    with open_core(settings) as core:
        core.doorbell.bind(asyncio.get_running_loop())
        app = create_app(api_services(core))
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
            loop.add_signal_handler(sig, _stop, server)
        async with anyio.create_task_group() as workers:
            for follower in log_followers(core):
                workers.start_soon(follower.run)
            log.info(
                "serving on http://%s:%d (data in %s, %s)",
                settings.host,
                settings.port,
                settings.data_dir,
                "PostgreSQL" if settings.uses_postgres else "SQLite",
            )
            await server.serve()
            workers.cancel_scope.cancel()
        log.info("stopped")


def _stop(server: uvicorn.Server) -> None:
    log.info("shutting down")
    server.should_exit = True
