"""Choosing events for audit, reading the times operators type, and an image's state
at each step of its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import msgspec
import pytest

from domain import events as ev
from domain.status import ImageStatus
from projections.audit import (
    EventFilter,
    InvalidMoment,
    NotInHistory,
    UnknownEventType,
    as_of,
    changes,
    event_types,
    parse_at,
    parse_moment,
    steps,
)
from projections.projector import replay

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
IMAGE = uuid4()


def history() -> list[ev.EventEnvelope]:
    """An image uploaded, processed, then re-processed and failed, a minute apart."""
    data: list[ev.EventData] = [
        ev.ImageUploaded("cat.png", "image/png", 100, 64, 48, "originals/cat"),
        ev.ProcessingRequested(1, "resize:10x10"),
        ev.ProcessingCompleted(1, "results/1", "image/png", 10, 10, 8),
        ev.ProcessingRequested(2, "grayscale"),
        ev.ProcessingFailed(2, "corrupt"),
    ]
    return [
        ev.EventEnvelope(
            type=type(item).__name__,
            image_id=IMAGE,
            version=version,
            position=10 * version,
            occurred_at=NOW + timedelta(minutes=version),
            data=item,
        )
        for version, item in enumerate(data, start=1)
    ]


def test_no_condition_matches_every_event() -> None:
    assert all(EventFilter().matches(event) for event in history())


def test_conditions_combine() -> None:
    events = history()
    wanted = EventFilter(
        image_id=IMAGE,
        types=frozenset({"ProcessingRequested"}),
        since=NOW + timedelta(minutes=3),
        until=NOW + timedelta(minutes=4),
        from_position=20,
    )

    assert [event.version for event in events if wanted.matches(event)] == [4]


def test_times_are_inclusive_and_positions_exclusive() -> None:
    second = history()[1]
    assert EventFilter(since=second.occurred_at, until=second.occurred_at).matches(second)
    assert not EventFilter(from_position=second.position).matches(second)
    assert not EventFilter(image_id=uuid4()).matches(second)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01", datetime(2025, 3, 1, tzinfo=UTC)),
        ("2025-03-01T10:30", datetime(2025, 3, 1, 10, 30, tzinfo=UTC)),
        ("2025-03-01T10:30:00Z", datetime(2025, 3, 1, 10, 30, tzinfo=UTC)),
        (
            "2025-03-01T10:30:00+02:00",
            datetime(2025, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("90s", NOW - timedelta(seconds=90)),
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("1w", NOW - timedelta(weeks=1)),
    ],
)
def test_times_are_iso_8601_in_utc_by_default_or_a_time_ago(text: str, expected: datetime) -> None:
    assert parse_moment(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2025-13-01", "15 minutes", "", "-2h"])
def test_anything_else_is_a_bad_time_that_says_what_is_expected(text: str) -> None:
    with pytest.raises(InvalidMoment, match="ISO 8601"):
        parse_moment(text, now=NOW)


def test_event_types_are_those_of_the_public_schema() -> None:
    assert event_types(["ImageDeleted", "ImageUploaded"]) == {"ImageDeleted", "ImageUploaded"}
    with pytest.raises(UnknownEventType, match=r"'ImageResized'.*ImageUploaded"):
        event_types(["ImageUploaded", "ImageResized"])


def test_each_step_carries_the_state_the_projector_builds() -> None:
    events = history()
    walked = steps(events)

    assert [step.event for step in walked] == events
    for count, step in enumerate(walked, start=1):
        assert step.state == replay(events[:count])
    final = walked[-1].state
    assert final is not None
    assert (final.status, final.error, final.spec) == (ImageStatus.FAILED, "corrupt", "grayscale")


def test_changes_name_what_an_event_changed() -> None:
    walked = steps(history())
    requested_again = changes(walked[2].state, walked[3].state)

    assert requested_again == {
        "status": (ImageStatus.PROCESSED, ImageStatus.PROCESSING),
        "spec": ("resize:10x10", "grayscale"),
        "request_no": (1, 2),
    }
    assert changes(None, walked[0].state)["file_name"] == (None, "cat.png")


def test_the_state_as_of_a_version_or_a_time() -> None:
    events = history()

    assert as_of(events, 2) == events[:2]
    assert as_of(events, NOW + timedelta(minutes=3, seconds=30)) == events[:3]
    assert as_of(events, NOW + timedelta(days=1)) == events


def test_a_version_or_time_outside_the_history_is_refused() -> None:
    events = history()
    with pytest.raises(NotInHistory, match=r"no version 6 \(versions 1 to 5\)"):
        as_of(events, 6)
    with pytest.raises(NotInHistory, match="did not exist"):
        as_of(events, NOW)


def test_at_is_a_version_number_or_a_time() -> None:
    assert parse_at("3") == 3
    assert parse_at("2025-03-01T12:00Z") == NOW
    assert parse_at("5m", now=NOW) == NOW - timedelta(minutes=5)


def test_envelopes_survive_the_json_lines_format() -> None:
    for event in history():
        line = ev.encode(event)
        assert b"\n" not in line
        assert ev.decode(line) == event
        assert msgspec.json.decode(line)["data"]["type"] == event.type
