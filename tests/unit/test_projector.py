"""The image_status projector: rows follow the log, and redelivery changes nothing."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.events import EventEnvelope
from domain.status import ImageStatus
from projections.projector import VersionGap, apply, replay
from projections.rows import ImageRow
from tests.unit.workloads import Step, envelopes, steps


def project(events: list[EventEnvelope], rows: dict[UUID, ImageRow] | None = None) -> dict:
    rows = dict(rows or {})
    for event in events:
        row = apply(rows.get(event.image_id), event)
        if row is not None:
            rows[event.image_id] = row
    return rows


@given(steps, st.data())
def test_replaying_any_prefix_again_gives_the_same_rows(workload: list[Step], data) -> None:
    log = envelopes(workload)
    once = project(log)
    cut = data.draw(st.integers(0, len(log)))
    twice = project(log, project(log[:cut]))
    assert twice == once


@given(steps)
def test_each_row_is_its_images_history_replayed(workload: list[Step]) -> None:
    log = envelopes(workload)
    rows = project(log)
    for image_id, row in rows.items():
        assert replay(e for e in log if e.image_id == image_id) == row
        assert row.version == max(e.version for e in log if e.image_id == image_id)


def test_upload_process_complete_builds_the_status_row() -> None:
    log = envelopes([(0, "upload"), (0, "request"), (0, "complete")])
    (row,) = project(log).values()
    assert row.status is ImageStatus.PROCESSED
    assert (row.spec, row.result_key, row.result_width, row.version) == ("grayscale", "r", 2, 3)
    assert row.created_position == 1


def test_a_missing_version_is_a_gap() -> None:
    log = envelopes([(0, "upload"), (0, "request"), (0, "complete")])
    with pytest.raises(VersionGap):
        project([log[0], log[2]])
