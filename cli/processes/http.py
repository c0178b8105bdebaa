"""Serving the API with uvicorn, alongside any background work of the same process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

import anyio
import uvicorn
from litestar import Litestar

from infra.settings import MAX_PORT, Settings

log = logging.getLogger(__name__)


class CannotListen(OSError):
    """The address to serve on cannot be bound: in use, not ours, or no port at all."""


def check_can_listen(host: str, port: int) -> None:
    """Bind the address uvicorn is about to bind, and let it go again.

    uvicorn reports a failed bind by logging it and exiting from inside its own
    task (SystemExit(3)); checking first makes it one error, raised before
    anything starts."""
    if not 0 <= port <= MAX_PORT:  # getaddrinfo would quietly take the port modulo 65536
        raise CannotListen(f"cannot listen on {host}:{port}: a port is 0 to {MAX_PORT}")
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, protocol, _name, address in addresses:
            with socket.socket(family, kind, protocol) as probe:
                # As uvicorn does, so a port left in TIME_WAIT by a stopped server is free.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError as e:
        raise CannotListen(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


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
    check_can_listen(settings.host, settings.port)
    server = _Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
            lifespan="on",
            log_config=None,  # uvicorn's loggers go through ours: one format in the log
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
