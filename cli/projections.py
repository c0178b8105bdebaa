"""`imgproc projections`: the read models built from the event log — where each stands,
rebuilding one beside the live table and swapping it in, checking one for drift."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

from cli.bootstrap import Role, open_existing_stores
from cli.event_output import shown
from cli.options import BadArgument, ConfigOption, DataDirOption, fail, reported_errors, settings
from infra.errors import DependencyUnavailable
from projections import rebuild as rebuilding
from projections.rebuild import BATCH_EVENTS, PROJECTIONS, ProgressHook, Projection, projection
from projections.verify import Difference, verify

projections_app = typer.Typer(
    help="The read models built from the event log: positions, rebuild, verify.",
    no_args_is_help=True,
)

NameArgument = Annotated[
    str | None, typer.Argument(help=f"One projection ({', '.join(PROJECTIONS)}); default: all.")
]
BatchOption = Annotated[
    int, typer.Option("--batch-size", help="Events per read and per transaction.")
]
DRIFT_EXIT = 1
INTERRUPTED_EXIT = 130


def _chosen(name: str | None, batch_size: int) -> list[Projection]:
    if batch_size < 1:
        raise BadArgument(f"bad batch size {batch_size}: it must be at least 1")
    return list(PROJECTIONS.values()) if name is None else [projection(name)]


@projections_app.command("list")
def list_projections(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Each projection with its position, the log's head and how far behind it is.

    A projector fed from Kafka commits its offsets to its consumer group instead of
    storing a position: the group is named.
    """
    with reported_errors(), open_existing_stores(settings(config, data_dir=data_dir)) as stores:
        kafka = stores.settings.uses_kafka
        head = stores.log.head()
        table = Table(box=None, header_style="bold")
        table.add_column("projection")
        for column in ("position", "head", "lag"):
            table.add_column(column, justify="right")
        if kafka:
            table.add_column("fed by Kafka group")
        for chosen in PROJECTIONS.values():
            if kafka:
                group = stores.settings.group_id(Role.PROJECTOR)
                table.add_row(chosen.name, "-", str(head), "-", group)
            else:
                position = stores.tracking.position(chosen.name)
                table.add_row(chosen.name, str(position), str(head), str(max(head - position, 0)))
        Console(soft_wrap=False).print(table)


@projections_app.command()
def rebuild(
    name: NameArgument = None,
    batch_size: BatchOption = BATCH_EVENTS,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Rebuild from the whole log into a shadow table, then swap it in atomically.

    The service may keep running: readers see the old table until the swap, and
    the live projector carries on from where the rebuild leaves off. If the
    rebuild stops half-way, the live table is untouched; run it again.
    """
    with reported_errors():
        projections = _chosen(name, batch_size)
        with open_existing_stores(settings(config, data_dir=data_dir)) as stores:
            for chosen in projections:
                try:
                    with _progress(chosen.name) as report:
                        done = rebuilding.rebuild(
                            stores.database,
                            stores.log,
                            chosen,
                            batch_size=batch_size,
                            progress=report,
                            transient=(DependencyUnavailable,),  # lock timeouts among them
                        )
                except KeyboardInterrupt:
                    with contextlib.suppress(Exception):
                        rebuilding.discard(stores.database, chosen)
                    message = f"{chosen.name}: rebuild interrupted; the live table is unchanged"
                    fail(message, INTERRUPTED_EXIT)
                rate = done.events / done.seconds if done.seconds else 0.0
                typer.echo(
                    f"{done.projection}: rebuilt from {done.events} events in "
                    f"{done.seconds:.1f}s ({rate:,.0f} events/s); now at position {done.position}"
                )


@projections_app.command("verify")
def verify_projections(
    name: NameArgument = None,
    batch_size: BatchOption = BATCH_EVENTS,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Rebuild into a scratch table and compare it row by row with the live one.

    Prints the differences; exits with status 1 if any row drifted.
    """
    drifted = False
    with reported_errors(), open_existing_stores(settings(config, data_dir=data_dir)) as stores:
        for chosen in _chosen(name, batch_size):
            with _progress(chosen.name) as report:
                checked = verify(
                    stores.database, stores.log, chosen, batch_size=batch_size, progress=report
                )
            if checked.ok:
                lagging = (
                    f"; {checked.behind} not up to date yet (the projection is at position "
                    f"{checked.position})"
                    if checked.behind
                    else ""
                )
                typer.echo(
                    f"{checked.projection}: {checked.rows} rows match a rebuild "
                    f"up to position {checked.head}{lagging}"
                )
                continue
            drifted = True
            typer.echo(
                f"{checked.projection}: {checked.drifted} of {checked.rows} rows differ "
                f"from a rebuild up to position {checked.head}"
            )
            for difference in checked.differences:
                typer.echo(f"  {difference.image_id}: {_described(difference)}")
            if checked.drifted > len(checked.differences):
                typer.echo(f"  … and {checked.drifted - len(checked.differences)} more")
    if drifted:
        raise typer.Exit(DRIFT_EXIT)


def _described(difference: Difference) -> str:
    if difference.live is None:
        return "missing from the live table"
    if difference.rebuilt is None:
        return "in the live table, but no event builds it"
    return ", ".join(
        f"{column} live={shown(live)} rebuilt={shown(rebuilt)}"
        for column, (live, rebuilt) in difference.fields().items()
    )


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("- events/s" if speed is None else f"{speed:,.0f} events/s")


@contextlib.contextmanager
def _progress(label: str) -> Iterator[ProgressHook]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("events"),
        _Rate(table_column=Column(no_wrap=True, min_width=16, justify="right")),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with bar:
        task = bar.add_task(label, total=None)

        def report(progress: rebuilding.Progress) -> None:
            left = max(progress.head - progress.position, 0)
            bar.update(task, completed=progress.events, total=progress.events + left)

        yield report
