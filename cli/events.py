"""`imgproc events`: reading the event log for audit, following it, republishing it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator
from typing import Annotated, Literal
from uuid import UUID

import typer

from cli import bootstrap
from cli.bootstrap import open_existing_stores
from cli.event_output import EventPrinter, Format, history_json, print_history
from cli.options import BadArgument, ConfigOption, DataDirOption, reported_errors, settings
from commands.log import EventLog
from domain.errors import ImageNotFound
from domain.events import EventEnvelope
from projections.audit import EventFilter, as_of, event_types, parse_at, parse_moment, steps
from projections.batches import batches

events_app = typer.Typer(
    help="Read the event log: list, show one image's history, follow, republish.",
    no_args_is_help=True,
)

PAGE = 1_000  # events per read of the log
TIMES = "ISO 8601 like 2025-03-01T12:00Z, or a time ago: 90s, 15m, 2h, 7d"

ImageOption = Annotated[str | None, typer.Option("--image", help="Only this image's events.")]
TypeOption = Annotated[
    list[str] | None, typer.Option("--type", help="Only events of this type (repeatable).")
]
FormatOption = Annotated[
    Format | None,
    typer.Option("--format", help="table or jsonl (default: table on a terminal, else jsonl)."),
]


def image_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise BadArgument(f"not an image id: {text!r}") from None


def check_position(position: int, head: int, *, first: int = 0) -> int:
    if position < first:
        raise BadArgument(f"bad position {position}: positions start at 1")
    if position > head:
        raise BadArgument(f"bad position {position}: the log ends at {head}")
    return position


@events_app.command("list")
def list_events(
    image: ImageOption = None,
    type_: TypeOption = None,
    since: Annotated[str | None, typer.Option(help=f"From this time ({TIMES}).")] = None,
    until: Annotated[str | None, typer.Option(help=f"Up to this time ({TIMES}).")] = None,
    from_position: Annotated[
        int, typer.Option("--from-position", help="Only events after this position.")
    ] = 0,
    limit: Annotated[int | None, typer.Option(help="At most this many events.")] = None,
    format: FormatOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The event log in order: position, time, image, version, type and data."""
    with reported_errors():
        if limit is not None and limit < 1:
            raise BadArgument(f"bad limit {limit}: it must be at least 1")
        wanted = EventFilter(
            image_id=None if image is None else image_id(image),
            types=event_types(type_ or ()),
            since=None if since is None else parse_moment(since),
            until=None if until is None else parse_moment(until),
            from_position=from_position,
        )
        printer = EventPrinter(format)
        with open_existing_stores(settings(config, data_dir=data_dir)) as stores:
            check_position(from_position, stores.log.head())
            left = limit
            for page in _pages(stores.log, wanted):
                printer.print(page[:left])
                if left is not None:
                    left -= len(page)
                    if left <= 0:
                        break


def _pages(log: EventLog, wanted: EventFilter) -> Iterator[list[EventEnvelope]]:
    """The matching events, a page at a time (one image's history is read directly)."""
    if wanted.image_id is not None:
        history = log.history(wanted.image_id)
        if not history:
            raise ImageNotFound(wanted.image_id)
        yield [event for event in history if wanted.matches(event)]
        return
    for batch in batches(log, wanted.from_position, PAGE):
        yield [event for event in batch if wanted.matches(event)]


@events_app.command()
def show(
    image: Annotated[str, typer.Argument(help="The image id.")],
    at: Annotated[
        str | None, typer.Option(help="A version number, or a time: the state as of then.")
    ] = None,
    format: Annotated[Literal["table", "json"], typer.Option(help="table or json.")] = "table",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """One image's full history, with its state rebuilt after each event."""
    with reported_errors():
        chosen = image_id(image)
        moment = None if at is None else parse_at(at)
        with open_existing_stores(settings(config, data_dir=data_dir)) as stores:
            history = list(stores.log.history(chosen))
        if not history:
            raise ImageNotFound(chosen)
        shown = history if moment is None else as_of(history, moment)
        if format == "json":
            typer.echo(history_json(chosen, shown))
        else:
            print_history(chosen, steps(shown), latest=history[-1].version)


@events_app.command()
def tail(
    image: ImageOption = None,
    type_: TypeOption = None,
    from_position: Annotated[
        int | None,
        typer.Option("--from-position", help="Start after this position (default: now)."),
    ] = None,
    format: FormatOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Follow new events as they are recorded, until Ctrl-C."""
    with reported_errors():
        loaded = settings(config, data_dir=data_dir)
        printer = EventPrinter(format)
        with open_existing_stores(loaded) as stores, _until_interrupted():
            head = stores.log.head()
            position = head if from_position is None else check_position(from_position, head)
            wanted = EventFilter(
                image_id=None if image is None else image_id(image),
                types=event_types(type_ or ()),
            )
            while True:
                for batch in batches(stores.log, position, PAGE):
                    position = batch[-1].position
                    printer.print([event for event in batch if wanted.matches(event)])
                time.sleep(loaded.poll_interval)


@contextlib.contextmanager
def _until_interrupted() -> Iterator[None]:
    """Ctrl-C, or SIGTERM, ends the command quietly with status 0."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


@events_app.command()
def republish(
    from_position: Annotated[
        int, typer.Option("--from-position", help="The first position to publish.")
    ],
    to_position: Annotated[
        int | None,
        typer.Option("--to-position", help="The last position (default: the head)."),
    ] = None,
    brokers: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers (default: the settings').")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Topic (default: the settings').")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Publish a range of the log to Kafka again, as the relay does (for a new consumer)."""
    with reported_errors():
        loaded = settings(config, data_dir=data_dir, kafka_brokers=brokers, kafka_topic=topic)
        if loaded.kafka_brokers is None:
            raise BadArgument("no Kafka brokers: set IMGPROC_KAFKA_BROKERS or pass --brokers")
        if to_position is not None and to_position < from_position:
            raise BadArgument(f"--to-position {to_position} is before --from-position")
        with open_existing_stores(loaded) as stores:
            head = stores.log.head()
            check_position(from_position, head, first=1)
            last = head if to_position is None else min(to_position, head)
            published = asyncio.run(
                bootstrap.republish(loaded, stores.log, from_position - 1, last)
            )
        typer.echo(
            f"republished {published} events (positions {from_position} to {last}) "
            f"to {loaded.kafka_topic}"
        )
