"""The ReadModel contract, held by the SQL read model on SQLite and on PostgreSQL and by
the in-memory fake the unit tests lean on; and likewise the Tracking contract, and the
ReadQueries the API reads the same rows through. What one does, all of them do.

tests/integration/test_read_model.py keeps only what is particular to SQL.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest

from cli.bootstrap import open_database, open_read_queries
from domain.status import ImageStatus
from infra.migrate import upgrade
from projections.queries import ReadQueries
from projections.rows import ImageRow
from projections.sql import SqlReadModel
from projections.store import InvalidCursor, ReadModel
from projections.tracking import SqlTracking, Tracking
from tests.fakes import InMemoryReadModel, InMemoryReadQueries, InMemoryTracking

pytest_plugins = ["tests.integration.backends"]

STORES = ["sqlite", "postgres", "memory"]
UPLOADED_AT = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


@dataclass
class Stores:
    model: ReadModel
    tracking: Tracking
    open_queries: Callable[[], AbstractAsyncContextManager[ReadQueries]]


@pytest.fixture(params=STORES)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    """A read model, the tracking positions beside it, and the queries on it, empty."""
    if request.param == "memory":
        memory = InMemoryReadModel()
        queries = InMemoryReadQueries(memory)
        yield Stores(memory, InMemoryTracking(), lambda: contextlib.nullcontext(queries))
        return
    from tests.integration.backends import fresh_settings  # a plugin: loaded by pytest first

    with fresh_settings(request.param, tmp_path / "data") as settings:
        upgrade(settings)
        database = open_database(settings)
        try:
            yield Stores(
                SqlReadModel(database),
                SqlTracking(database),
                partial(open_read_queries, settings, database),
            )
        finally:
            database.close()


@pytest.fixture
def model(stores: Stores) -> ReadModel:
    return stores.model


@pytest.fixture
def tracking(stores: Stores) -> Tracking:
    return stores.tracking


@pytest.fixture
async def queries(stores: Stores) -> AsyncIterator[ReadQueries]:
    async with stores.open_queries() as opened:
        yield opened


def row(position: int, status: ImageStatus = ImageStatus.UPLOADED, **changes: Any) -> ImageRow:
    """An image uploaded at log position `position`."""
    uploaded = ImageRow(
        id=uuid4(),
        status=status,
        file_name=f"image-{position}.png",
        content_type="image/png",
        size=1000 + position,
        width=640,
        height=480,
        original_key=f"originals/{position}",
        created_at=UPLOADED_AT + timedelta(seconds=position),
        updated_at=UPLOADED_AT + timedelta(seconds=position),
        created_position=position,
        version=1,
    )
    return msgspec.structs.replace(uploaded, **changes)


def processed_row(position: int) -> ImageRow:
    """A row with every column set, a result's included."""
    return row(
        position,
        ImageStatus.PROCESSED,
        spec="resize:100x100",
        request_no=1,
        result_key="results/1",
        result_content_type="image/webp",
        result_size=321,
        result_width=100,
        result_height=75,
        version=3,
    )


def test_a_saved_row_reads_back_unchanged(model: ReadModel) -> None:
    processed = processed_row(1)
    failed = row(2, ImageStatus.FAILED, spec="blur:3", request_no=1, error="corrupt", version=3)

    model.save([processed, failed])

    assert model.get(processed.id) == processed
    assert model.get(failed.id) == failed
    assert model.get(uuid4()) is None


def test_saving_a_row_again_replaces_it(model: ReadModel) -> None:
    uploaded = row(1)
    model.save([uploaded])
    processing = msgspec.structs.replace(
        uploaded, status=ImageStatus.PROCESSING, spec="resize:10x10", request_no=1, version=2
    )

    model.save([processing])

    assert model.get(uploaded.id) == processing


def test_a_row_never_goes_back_to_an_older_version(model: ReadModel) -> None:
    uploaded = row(1)
    processing = msgspec.structs.replace(uploaded, status=ImageStatus.PROCESSING, version=2)
    model.save([processing])

    model.save([uploaded])  # a late writer with an old row

    assert model.get(uploaded.id) == processing


def test_the_last_of_several_changes_to_one_image_in_a_batch_wins(model: ReadModel) -> None:
    uploaded = row(1)
    processing = msgspec.structs.replace(uploaded, status=ImageStatus.PROCESSING, version=2)

    model.save([uploaded, processing])

    assert model.get(uploaded.id) == processing


def test_many_rows_are_fetched_together(model: ReadModel) -> None:
    rows = [row(position) for position in range(1, 1201)]  # more than one statement's worth
    model.save(rows)

    wanted = [r.id for r in rows[::7]] + [uuid4()]
    found = model.get_many(wanted)

    assert found == {r.id: r for r in rows[::7]}
    assert len(model.get_many(r.id for r in rows)) == 1200
    assert model.get_many([]) == {}


def test_images_are_listed_newest_first_a_page_at_a_time(model: ReadModel) -> None:
    rows = [row(position) for position in (3, 8, 12, 20, 21)]
    model.save(rows)

    pages = [model.list(status=None, limit=2, cursor=None)]
    while pages[-1].next_cursor is not None:
        pages.append(model.list(status=None, limit=2, cursor=pages[-1].next_cursor))

    assert [[r.created_position for r in page.items] for page in pages] == [[21, 20], [12, 8], [3]]


def test_a_full_last_page_says_there_is_no_more(model: ReadModel) -> None:
    model.save([row(1), row(2)])

    page = model.list(status=None, limit=2, cursor=None)

    assert len(page.items) == 2
    assert page.next_cursor is None


def test_listing_by_status_and_leaving_deleted_images_out(model: ReadModel) -> None:
    uploaded, processed = row(1), row(2, ImageStatus.PROCESSED)
    deleted, failed = row(3, ImageStatus.DELETED), row(4, ImageStatus.FAILED)
    model.save([uploaded, processed, deleted, failed])

    def listed(status: ImageStatus | None) -> list[UUID]:
        return [r.id for r in model.list(status=status, limit=10, cursor=None).items]

    assert listed(None) == [failed.id, processed.id, uploaded.id]
    assert listed(ImageStatus.PROCESSED) == [processed.id]
    assert listed(ImageStatus.DELETED) == [deleted.id]
    assert listed(ImageStatus.PROCESSING) == []


def test_paging_within_a_status(model: ReadModel) -> None:
    rows = [row(p, ImageStatus.PROCESSED if p % 2 else ImageStatus.FAILED) for p in range(1, 10)]
    model.save(rows)

    first = model.list(status=ImageStatus.PROCESSED, limit=3, cursor=None)
    rest = model.list(status=ImageStatus.PROCESSED, limit=3, cursor=first.next_cursor)

    assert [r.created_position for r in first.items + rest.items] == [9, 7, 5, 3, 1]
    assert rest.next_cursor is None


def as_cursor(position: int) -> str:
    """The form a cursor takes: the position's digits, base64url without padding."""
    return base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")


BIGINT_MAX = 2**63 - 1


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "YWJj",
        "LTE",
        "MA",
        "MTI=",
        "MTI$",
        as_cursor(BIGINT_MAX + 1),
        as_cursor(int("9" * 30)),
    ],
)
def test_a_cursor_it_did_not_issue_is_refused(model: ReadModel, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        model.list(status=None, limit=10, cursor=cursor)


def test_a_cursor_may_name_the_largest_position_the_log_can_have(model: ReadModel) -> None:
    model.save([row(1)])

    page = model.list(status=None, limit=10, cursor=as_cursor(BIGINT_MAX))

    assert [r.created_position for r in page.items] == [1]


async def test_the_queries_read_the_rows_as_saved(model: ReadModel, queries: ReadQueries) -> None:
    processed = processed_row(1)
    model.save([processed, row(2)])

    assert await queries.get(processed.id) == processed
    assert await queries.get(uuid4()) is None


async def test_the_queries_page_and_filter_as_the_model_does(
    model: ReadModel, queries: ReadQueries
) -> None:
    rows = [row(p, ImageStatus.DELETED if p == 4 else ImageStatus.UPLOADED) for p in range(1, 7)]
    model.save(rows)

    for status in (None, ImageStatus.UPLOADED, ImageStatus.DELETED, ImageStatus.FAILED):
        cursor: str | None = None
        while True:
            page = await queries.list(status=status, limit=2, cursor=cursor)
            assert page == model.list(status=status, limit=2, cursor=cursor)
            if (cursor := page.next_cursor) is None:
                break
    first = await queries.list(status=None, limit=3, cursor=None)
    assert [r.created_position for r in first.items] == [6, 5, 3]


async def test_the_queries_refuse_a_cursor_they_did_not_issue(queries: ReadQueries) -> None:
    with pytest.raises(InvalidCursor):
        await queries.list(status=None, limit=10, cursor="not a cursor")


def test_a_name_without_a_position_starts_at_zero(tracking: Tracking) -> None:
    assert tracking.position("projector") == 0


def test_each_name_keeps_its_own_position(tracking: Tracking) -> None:
    tracking.set_position("projector", 5)
    tracking.set_position("relay", 9)
    tracking.set_position("relay", 11)

    assert (tracking.position("projector"), tracking.position("relay")) == (5, 11)
    assert tracking.position("janitor") == 0
