"""The `imgproc` command. Commands translate options into settings and delegate."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from typer._click.exceptions import UsageError
from typer.exceptions import Abort

from cli.events import events_app
from cli.projections import projections_app
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
    port: Annotated[int | None, typer.Option(help="Port to listen on.", min=0, max=65535)] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the whole service in one process (embedded store, local blob directory)."""
    from cli.embedded import serve_embedded
    from cli.processes.lifecycle import exit_on_startup_error

    settings = _settings(config, host=host, port=port, data_dir=data_dir)
    _configure_logging(settings.log_level)
    with exit_on_startup_error():
        asyncio.run(serve_embedded(settings))


@app.command()
def migrate(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Create or upgrade every table (event store, read model, positions)."""
    from cli.processes.lifecycle import exit_on_startup_error
    from infra.migrate import upgrade

    settings = _settings(config, data_dir=data_dir)
    _configure_logging(settings.log_level)
    with exit_on_startup_error():
        upgrade(settings)
    typer.echo("migrations applied")


def _run_role(role: str, config: Path | None, **overrides: object) -> None:
    from cli.production import run_role

    settings = _settings(config, **overrides)
    _configure_logging(settings.log_level)
    run_role(role, settings)


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.", min=0, max=65535)] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the HTTP API alone (production; run `imgproc migrate` first)."""
    _run_role("api", config, host=host, port=port)


@app.command()
def process(config: ConfigOption = None) -> None:
    """Process images: consume the event stream in the processor group."""
    _run_role("processor", config)


@app.command()
def project(config: ConfigOption = None) -> None:
    """Maintain the read model: consume the event stream in the projector group."""
    _run_role("projector", config)


@app.command()
def relay(config: ConfigOption = None) -> None:
    """Publish the event store's log to Kafka."""
    _run_role("relay", config)


@app.command()
def janitor(config: ConfigOption = None) -> None:
    """Remove deleted images' blobs: consume the event stream in the janitor group."""
    _run_role("janitor", config)


app.add_typer(events_app, name="events")
app.add_typer(projections_app, name="projections")


def main() -> None:
    """Run the command; a usage mistake is one line on stderr and exit status 2."""
    try:
        outcome = app(standalone_mode=False)
    except UsageError as e:
        if not e.format_message():  # no command given: the help was shown instead
            sys.exit(2)
        hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
        typer.echo(f"imgproc: {' '.join(e.format_message().split())}{hint}", err=True)
        sys.exit(2)
    except Abort:
        sys.exit(130)
    sys.exit(outcome if isinstance(outcome, int) else 0)
