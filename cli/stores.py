"""What the operator commands (`imgproc events …`, `imgproc projections …`) share:
their options, opening the service's stores, and one-line errors.

They read the same settings as `imgproc dev` (cli/main.py), so run in the same
directory with no options they find what the service wrote there. They never
create or migrate a database: an operator pointing at the wrong place is told so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from domain.errors import DomainError
from infra.database import Database, open_database
from infra.errors import InfrastructureError
from infra.event_store import SqlEventLog, open_image_commands
from infra.migrate import current_revision
from infra.settings import Settings, SettingsError
from projections.audit import InvalidMoment, NotInHistory, UnknownEventType
from projections.rebuild import UnknownProjection
from projections.shadow import ShapeMismatch
from projections.sql import SqlReadModel

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="YAML settings file (environment variables win)."),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded store keeps its files.")
]

# Errors an operator can act on: reported in one line, without a traceback.
OPERATOR_ERRORS = (
    DomainError,
    InfrastructureError,
    SettingsError,
    UnknownProjection,
    UnknownEventType,
    InvalidMoment,
    NotInHistory,
    ShapeMismatch,
)


class BadArgument(ValueError):
    """An option value the command cannot use."""


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr (drivers' messages span several) and the exit status."""
    typer.echo(f"imgproc: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the errors an operator can act on into `imgproc: …` and exit status 2."""
    try:
        yield
    except (*OPERATOR_ERRORS, BadArgument) as e:
        fail(str(e))


@dataclass
class Stores:
    settings: Settings
    database: Database
    log: SqlEventLog
    read_model: SqlReadModel


def load(config: Path | None, data_dir: Path | None) -> Settings:
    from cli.main import _settings  # imported late: cli.main registers these commands

    return _settings(config, data_dir=data_dir)


@contextlib.contextmanager
def open_stores(settings: Settings) -> Iterator[Stores]:
    """The event log and the read-model database the service with these settings uses."""
    _check_exists(settings)
    database = open_database(settings)
    try:
        commands = open_image_commands(settings)
        try:
            yield Stores(settings, database, SqlEventLog(commands), SqlReadModel(database))
        finally:
            commands.close()
    finally:
        database.close()


def _check_exists(settings: Settings) -> None:
    where = (
        "the PostgreSQL database" if settings.uses_postgres else f"{settings.data_dir.absolute()}"
    )
    hint = "run `imgproc migrate` or `imgproc dev` first, or pass --data-dir/--config"
    if not settings.uses_postgres and not settings.sqlite_path.exists():
        fail(f"no event store in {where}; {hint}")
    if current_revision(settings) is None:
        fail(f"no event store in {where} (no tables); {hint}")
