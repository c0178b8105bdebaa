"""What every `imgproc` command shares: the options that find the settings, loading
them once, and one-line errors.

The operator commands (`imgproc events …`, `imgproc projections …`) read the
same settings as `imgproc dev`, so run in the same directory with no options
they find what the service wrote there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from cli.bootstrap import MissingStore
from domain.errors import DomainError
from infra.errors import InfrastructureError
from infra.settings import Settings, SettingsError, load_settings
from projections.audit import InvalidMoment, NotInHistory, UnknownEventType
from projections.rebuild import UnknownProjection
from projections.shadow import ShapeMismatch

DEFAULT_CONFIG = Path("config/local.yaml")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="YAML settings file (environment variables win)."),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded store keeps its files.")
]
HostOption = Annotated[str | None, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on.", min=0, max=65535)]


class BadArgument(ValueError):
    """An option value the command cannot use."""


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr (drivers' messages span several) and the exit status."""
    typer.echo(f"imgproc: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def settings(config: Path | None, **overrides: Any) -> Settings:
    """The settings: the YAML file (config/local.yaml unless named), the environment over
    it, and the command's options over both."""
    if config is not None and not config.exists():
        fail(f"config file {config} does not exist")
    try:
        loaded = load_settings(os.environ, config or DEFAULT_CONFIG)
    except SettingsError as e:
        fail(str(e))
    return loaded.with_overrides(**overrides)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the errors an operator can act on into `imgproc: …` and exit status 2."""
    try:
        yield
    except (
        DomainError,
        InfrastructureError,
        SettingsError,
        UnknownProjection,
        UnknownEventType,
        InvalidMoment,
        NotInHistory,
        ShapeMismatch,
        BadArgument,
        MissingStore,
    ) as e:
        fail(str(e))
