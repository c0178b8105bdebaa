"""Reading the event log for audit: which events to show, and an image's state at each step.

Pure: events in, answers out. The times operators type are parsed here too, so
every command that takes a time understands the same ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from domain.events import EVENT_TYPES, EventEnvelope
from projections.projector import apply
from projections.rows import COLUMNS, ImageRow

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class InvalidMoment(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(
            f"bad time {text!r}: expected ISO 8601 (2025-03-01, 2025-03-01T12:00:00Z) "
            "or a time ago (90s, 15m, 2h, 7d, 1w)"
        )


class UnknownEventType(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown event type {name!r}; known: {', '.join(EVENT_TYPES)}")


def parse_moment(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 date or time (UTC unless it says otherwise), or a duration before now."""
    duration = _DURATION.fullmatch(text.strip())
    if duration is not None:
        amount, unit = duration.groups()
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidMoment(text) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def event_types(names: Iterable[str]) -> frozenset[str]:
    """The named event types, checked against the public schema."""
    chosen = frozenset(names)
    if unknown := sorted(chosen - EVENT_TYPES.keys()):
        raise UnknownEventType(unknown[0])
    return chosen


@dataclass(frozen=True)
class EventFilter:
    """Which events to show. Times are inclusive at both ends; no condition means all."""

    image_id: UUID | None = None
    types: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    from_position: int = 0  # events after this position

    def matches(self, event: EventEnvelope) -> bool:
        return (
            event.position > self.from_position
            and (self.image_id is None or event.image_id == self.image_id)
            and (not self.types or event.type in self.types)
            and (self.since is None or event.occurred_at >= self.since)
            and (self.until is None or event.occurred_at <= self.until)
        )


class Step(NamedTuple):
    """One event of an image's history and the image's state once it was applied."""

    event: EventEnvelope
    state: ImageRow | None


def steps(history: Iterable[EventEnvelope]) -> list[Step]:
    """The state after each event of one image's history (as the projector builds it)."""
    walked: list[Step] = []
    state: ImageRow | None = None
    for event in history:
        state = apply(state, event)
        walked.append(Step(event, state))
    return walked


class NotInHistory(LookupError):
    pass


def as_of(history: Sequence[EventEnvelope], at: int | datetime) -> list[EventEnvelope]:
    """The prefix of a history up to a version, or up to a time (inclusive)."""
    if not history:
        raise NotInHistory("the image has no events")
    image_id = history[0].image_id
    if isinstance(at, int):
        if not 1 <= at <= history[-1].version:
            raise NotInHistory(
                f"image {image_id} has no version {at} (versions 1 to {history[-1].version})"
            )
        return [event for event in history if event.version <= at]
    prefix = [event for event in history if event.occurred_at <= at]
    if not prefix:
        raise NotInHistory(
            f"image {image_id} did not exist at {at.isoformat()} "
            f"(uploaded {history[0].occurred_at.isoformat()})"
        )
    return prefix


def parse_at(text: str, *, now: datetime | None = None) -> int | datetime:
    """`--at`: a version number, or a time as parse_moment reads it."""
    return int(text) if text.strip().isdigit() else parse_moment(text, now=now)


def changes(before: ImageRow | None, after: ImageRow | None) -> dict[str, tuple[Any, Any]]:
    """The fields an event changed, with their values before and after (bookkeeping aside)."""
    if after is None:
        return {}
    quiet = {"version", "updated_at", "created_position", "created_at", "id"}
    return {
        column: (None if before is None else getattr(before, column), getattr(after, column))
        for column in COLUMNS
        if column not in quiet
        and (before is None or getattr(before, column) != getattr(after, column))
        and not (before is None and getattr(after, column) is None)
    }
