"""What every process does around its work: check the schema, log its settings, run until
SIGTERM or Ctrl-C, and turn a failure to start into one line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Coroutine, Iterator
from typing import Any

import typer

from infra.errors import DependencyUnavailable
from infra.migrate import current_revision, head_revision
from infra.settings import Settings, SettingsError

log = logging.getLogger(__name__)


class NotMigrated(Exception):
    def __init__(self, current: str | None, head: str | None) -> None:
        super().__init__(
            f"the database is at revision {current or 'none'}, not {head}: run `imgproc migrate`"
        )


# OSError: the process cannot bind its port or create its data directory, say.
StartupError = DependencyUnavailable | NotMigrated | OSError


def check_migrated(settings: Settings) -> None:
    """Production processes never create tables; they refuse an outdated schema."""
    current, head = current_revision(settings), head_revision()
    if current != head:
        raise NotMigrated(current, head)


def log_settings(role: str, settings: Settings) -> None:
    log.info("%s starting with settings %s", role, json.dumps(settings.redacted(), default=str))


def run_until_signalled(main: Coroutine[Any, Any, None]) -> None:
    """Run main; SIGTERM or SIGINT cancels it, its cleanup runs, and the process exits 0."""
    asyncio.run(_cancelled_by_signals(main))


async def _cancelled_by_signals(main: Coroutine[Any, Any, None]) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()

    signalled: list[str] = []

    def stop(name: str) -> None:
        log.info("%s received: shutting down", name)
        signalled.append(name)
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig.name)
    try:
        await main
    except asyncio.CancelledError:
        if not signalled:
            raise
    log.info("stopped")


def startup_error(error: BaseException) -> StartupError | None:
    """The error that kept the process from starting, also from inside a task group."""
    if isinstance(error, DependencyUnavailable | NotMigrated | OSError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (found := startup_error(inner)) is not None:
                return found
    return None


@contextlib.contextmanager
def exit_on_startup_error() -> Iterator[None]:
    """A process that cannot start says why in one line on stderr and exits 1."""
    try:
        yield
    except SettingsError as e:
        typer.echo(f"imgproc: {e}", err=True)
        raise typer.Exit(2) from None
    except BaseException as e:
        error = startup_error(e)
        if error is None:
            raise
        typer.echo(f"imgproc: {one_line(error)}", err=True)
        raise typer.Exit(1) from None


def one_line(error: BaseException) -> str:
    """Driver messages span lines (psycopg adds hints); an operator wants one."""
    return " ".join(str(error).split())
