"""The `imgproc` command. Commands translate options into settings and delegate."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from infra.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="imgproc",
    help="Event-sourced image processing service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="YAML settings file (environment variables win)."),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded store keeps its files.")
]


def _settings(config: Path | None, **overrides: object) -> Settings:
    if config is not None and not config.exists():
        _fail(f"config file {config} does not exist")
    default_config = Path("config/local.yaml")
    try:
        settings = load_settings(os.environ, config or default_config)
    except SettingsError as e:
        _fail(str(e))
    return settings.with_overrides(**overrides)


def _fail(message: str) -> NoReturn:
    typer.echo(f"imgproc: {message}", err=True)
    raise typer.Exit(2)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def dev(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the whole service in one process (embedded store, local blob directory)."""
    from cli.embedded import serve_embedded

    settings = _settings(config, host=host, port=port, data_dir=data_dir)
    _configure_logging(settings.log_level)
    asyncio.run(serve_embedded(settings))


@app.command()
def migrate(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Create or upgrade every table (event store, read model, positions)."""
    from infra.migrate import upgrade

    settings = _settings(config, data_dir=data_dir)
    _configure_logging(settings.log_level)
    upgrade(settings)
    typer.echo("migrations applied")


def main() -> None:
    app()
