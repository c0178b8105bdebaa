"""The projector on a real read model: redelivery changes nothing, and the
read model equals a fresh rebuild from the log."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import EventEnvelope
from projections.projector import replay
from projections.sql import SqlReadModel
from tests.unit.workloads import Step, envelopes, steps
from workers.projector import ProjectorRunner

pytest_plugins = ["tests.integration.backends"]


class ListLog:
    """An event log held in a list, for feeding the runner exact batches."""

    def __init__(self, events: Sequence[EventEnvelope]) -> None:
        self.events = list(events)

    def read(self, after: int, limit: int) -> Sequence[EventEnvelope]:
        return [e for e in self.events if e.position > after][:limit]

    def head(self) -> int:
        return self.events[-1].position if self.events else 0

    def history(self, image_id, after_version=0):  # type: ignore[no-untyped-def]
        return [e for e in self.events if e.image_id == image_id and e.version > after_version]


def all_rows(read_model: SqlReadModel, events: Sequence[EventEnvelope]) -> dict:
    return read_model.get_many({e.image_id for e in events})


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(workload=steps, data=st.data())
def test_replaying_a_prefix_twice_gives_the_rows_of_once(
    backend, workload: list[Step], data
) -> None:
    events = envelopes(workload)
    if not events:
        return
    database = backend.database()
    with database.transaction() as cursor:
        cursor.execute("DELETE FROM image_status")
    read_model = SqlReadModel(database)
    runner = ProjectorRunner(read_model, ListLog(events))
    cut = data.draw(st.integers(1, len(events)))
    size = data.draw(st.integers(1, 7))

    for start in range(0, cut, size):
        runner.apply_batch(events[start : min(start + size, cut)])
    for start in range(0, len(events), size):  # everything again, from the start
        runner.apply_batch(events[start : start + size])

    fresh = {
        image_id: replay(e for e in events if e.image_id == image_id)
        for image_id in {e.image_id for e in events}
    }
    assert all_rows(read_model, events) == fresh


@pytest.mark.parametrize("batch_size", [1, 500])
def test_batches_of_any_size_build_the_same_rows(backend, batch_size: int) -> None:
    events = envelopes(
        [(image, action) for action in ("upload", "request", "complete") for image in range(4)]
    )
    read_model = SqlReadModel(backend.database())
    runner = ProjectorRunner(read_model, ListLog(events))
    for start in range(0, len(events), batch_size):
        runner.apply_batch(events[start : start + batch_size])
    rows = all_rows(read_model, events)
    assert {row.status for row in rows.values()} == {"processed"}


def test_a_gap_is_repaired_from_the_event_store(backend) -> None:
    events = envelopes([(0, "upload"), (0, "request"), (0, "complete")])
    read_model = SqlReadModel(backend.database())
    runner = ProjectorRunner(read_model, ListLog(events))

    runner.apply_batch([events[0], events[2]])  # the request went missing on the way

    assert all_rows(read_model, events) == {events[0].image_id: replay(events)}
