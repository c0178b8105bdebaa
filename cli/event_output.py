"""How the `imgproc events` commands print events: a table for people, JSON for programs.

JSON Lines output is one public envelope (domain.events) per line, exactly as
the event stream carries it, so `domain.events.decode` reads every line back.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from rich.console import Console
from rich.table import Table

from domain.events import EventEnvelope, encode
from projections.audit import Step, changes
from projections.rows import COLUMNS, ImageRow

# Wide enough for a full row when the output is not a terminal (and rich cannot tell).
PLAIN_WIDTH = 200


Format = Literal["table", "jsonl"]


def console() -> Console:
    plain = not sys.stdout.isatty()
    return Console(width=PLAIN_WIDTH if plain else None, soft_wrap=False)


def shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    return str(value)


def data_text(event: EventEnvelope) -> str:
    fields = msgspec.to_builtins(event.data)
    return " ".join(f"{key}={value}" for key, value in fields.items() if key != "type")


class EventPrinter:
    """Prints events as they come, a batch at a time, with the table's header once."""

    def __init__(self, asked: Format | None) -> None:
        # Unless asked, a table on a terminal and JSON Lines down a pipe.
        table = asked == "table" or (asked is None and sys.stdout.isatty())
        self._console = console() if table else None
        self._header = True

    def print(self, events: Sequence[EventEnvelope]) -> None:
        if not events:
            return
        if self._console is None:
            sys.stdout.write("".join(encode(event).decode() + "\n" for event in events))
            sys.stdout.flush()
            return
        # Fixed widths, so the tables of successive batches line up as one.
        table = Table(box=None, show_header=self._header, header_style="bold", pad_edge=False)
        table.add_column("position", justify="right", width=9, no_wrap=True)
        table.add_column("time (UTC)", width=24, no_wrap=True)
        table.add_column("image", width=36, no_wrap=True)
        table.add_column("ver", justify="right", width=4, no_wrap=True)
        table.add_column("type", width=19, no_wrap=True)
        table.add_column("data", overflow="fold")
        self._header = False
        for event in events:
            table.add_row(
                str(event.position),
                shown(event.occurred_at),
                str(event.image_id),
                str(event.version),
                event.type,
                data_text(event),
            )
        self._console.print(table)


def print_history(image_id: UUID, walked: Sequence[Step], *, latest: int) -> None:
    """One image's events, what each changed, and the state they leave."""
    out = console()
    table = Table(title=f"image {image_id}", box=None, header_style="bold", title_justify="left")
    for column in ("ver", "position", "time (UTC)", "event", "changes"):
        table.add_column(column, overflow="fold")
    state: ImageRow | None = None
    for step in walked:
        changed = changes(state, step.state).items()
        table.add_row(
            str(step.event.version),
            str(step.event.position),
            shown(step.event.occurred_at),
            step.event.type,
            ", ".join(f"{k}: {shown(b)} → {shown(a)}" for k, (b, a) in changed)
            if state is not None
            else " ".join(f"{k}={shown(a)}" for k, (_, a) in changed),
        )
        state = step.state
    out.print(table)
    version = walked[-1].event.version
    heading = "now" if version == latest else f"as of version {version} of {latest}"
    table = Table(title=f"state {heading}", box=None, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    if state is not None:
        for column in COLUMNS:
            table.add_row(column, shown(getattr(state, column)))
    out.print(table)


def history_json(image_id: UUID, events: Sequence[EventEnvelope]) -> str:
    """The same document as GET /api/v1/images/{id}/events."""
    return msgspec.json.encode({"id": image_id, "events": list(events)}).decode()
