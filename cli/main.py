"""The `imgproc` command. Commands translate options into settings and delegate to the
composition root (cli/bootstrap.py)."""

from __future__ import annotations

import logging
import sys

import typer
from typer._click.exceptions import UsageError
from typer.exceptions import Abort

from cli import bootstrap
from cli.bootstrap import Role
from cli.events import events_app
from cli.options import ConfigOption, DataDirOption, HostOption, PortOption, settings
from cli.processes.lifecycle import exit_on_startup_error
from cli.projections import projections_app
from infra.migrate import upgrade
from infra.settings import Settings

app = typer.Typer(
    name="imgproc",
    help="Event-sourced image processing service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _run(role: Role, loaded: Settings) -> None:
    _configure_logging(loaded.log_level)
    bootstrap.run(role, loaded)


@app.command()
def dev(
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the whole service in one process (embedded store, local blob directory)."""
    _run(Role.DEV, settings(config, host=host, port=port, data_dir=data_dir))


@app.command()
def migrate(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Create or upgrade every table (event store, read model, positions)."""
    loaded = settings(config, data_dir=data_dir)
    _configure_logging(loaded.log_level)
    with exit_on_startup_error():
        upgrade(loaded)
    typer.echo("migrations applied")


@app.command()
def api(host: HostOption = None, port: PortOption = None, config: ConfigOption = None) -> None:
    """Serve the HTTP API alone (production; run `imgproc migrate` first)."""
    _run(Role.API, settings(config, host=host, port=port))


@app.command()
def process(config: ConfigOption = None) -> None:
    """Process images: consume the event stream in the processor group."""
    _run(Role.PROCESSOR, settings(config))


@app.command()
def project(config: ConfigOption = None) -> None:
    """Maintain the read model: consume the event stream in the projector group."""
    _run(Role.PROJECTOR, settings(config))


@app.command()
def relay(config: ConfigOption = None) -> None:
    """Publish the event store's log to Kafka."""
    _run(Role.RELAY, settings(config))


@app.command()
def janitor(config: ConfigOption = None) -> None:
    """Remove deleted images' blobs: consume the event stream in the janitor group."""
    _run(Role.JANITOR, settings(config))


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
