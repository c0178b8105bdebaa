"""The SQL read model on SQLite and PostgreSQL: rows, pages, positions."""

from __future__ import annotations

import base64
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import msgspec
import psycopg
import pytest

from domain.status import ImageStatus
from infra.database import open_database
from infra.errors import DependencyUnavailable
from infra.settings import Settings
from projections.rows import ImageRow
from projections.sql import SqlReadModel
from projections.store import InvalidCursor
from tests.servers import closed_port

if TYPE_CHECKING:
    from tests.integration.backends import Backend

pytest_plugins = ["tests.integration.backends"]  # the `backend` fixtures

DRIVER_ERRORS = (sqlite3.Error, psycopg.Error)
UPLOADED_AT = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


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


@pytest.fixture
def model(backend: Backend) -> SqlReadModel:
    return SqlReadModel(backend.database())


def test_a_saved_row_reads_back_unchanged(model: SqlReadModel) -> None:
    processed = row(
        1,
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
    failed = row(2, ImageStatus.FAILED, spec="blur:3", request_no=1, error="corrupt", version=3)

    model.save("projector", [processed, failed], position=6)

    assert model.get(processed.id) == processed
    assert model.get(failed.id) == failed
    assert model.get(uuid4()) is None


def test_saving_a_row_again_replaces_it(model: SqlReadModel) -> None:
    uploaded = row(1)
    model.save("projector", [uploaded], position=1)
    processing = msgspec.structs.replace(
        uploaded, status=ImageStatus.PROCESSING, spec="resize:10x10", request_no=1, version=2
    )

    model.save("projector", [processing], position=2)

    assert model.get(uploaded.id) == processing
    assert model.position("projector") == 2


def test_a_row_never_goes_back_to_an_older_version(model: SqlReadModel) -> None:
    uploaded = row(1)
    processing = msgspec.structs.replace(uploaded, status=ImageStatus.PROCESSING, version=2)
    model.save("projector", [processing], position=2)

    model.save("projector", [uploaded], position=3)  # a late writer with an old row

    assert model.get(uploaded.id) == processing
    assert model.position("projector") == 3


def test_the_last_of_several_changes_to_one_image_in_a_batch_wins(model: SqlReadModel) -> None:
    uploaded = row(1)
    processing = msgspec.structs.replace(uploaded, status=ImageStatus.PROCESSING, version=2)

    model.save("projector", [uploaded, processing], position=2)

    assert model.get(uploaded.id) == processing


def test_many_rows_are_fetched_together(model: SqlReadModel) -> None:
    rows = [row(position) for position in range(1, 1201)]  # more than one statement's worth
    model.save("projector", rows, position=1200)

    wanted = [r.id for r in rows[::7]] + [uuid4()]
    found = model.get_many(wanted)

    assert found == {r.id: r for r in rows[::7]}
    assert len(model.get_many(r.id for r in rows)) == 1200
    assert model.get_many([]) == {}


def test_images_are_listed_newest_first_a_page_at_a_time(model: SqlReadModel) -> None:
    rows = [row(position) for position in (3, 8, 12, 20, 21)]
    model.save("projector", rows, position=21)

    pages = [model.list(status=None, limit=2, cursor=None)]
    while pages[-1].next_cursor is not None:
        pages.append(model.list(status=None, limit=2, cursor=pages[-1].next_cursor))

    assert [[r.created_position for r in page.items] for page in pages] == [[21, 20], [12, 8], [3]]


def test_a_full_last_page_says_there_is_no_more(model: SqlReadModel) -> None:
    model.save("projector", [row(1), row(2)], position=2)

    page = model.list(status=None, limit=2, cursor=None)

    assert len(page.items) == 2
    assert page.next_cursor is None


def test_listing_by_status_and_leaving_deleted_images_out(model: SqlReadModel) -> None:
    uploaded, processed = row(1), row(2, ImageStatus.PROCESSED)
    deleted, failed = row(3, ImageStatus.DELETED), row(4, ImageStatus.FAILED)
    model.save("projector", [uploaded, processed, deleted, failed], position=9)

    def listed(status: ImageStatus | None) -> list[UUID]:
        return [r.id for r in model.list(status=status, limit=10, cursor=None).items]

    assert listed(None) == [failed.id, processed.id, uploaded.id]
    assert listed(ImageStatus.PROCESSED) == [processed.id]
    assert listed(ImageStatus.DELETED) == [deleted.id]
    assert listed(ImageStatus.PROCESSING) == []


def test_paging_within_a_status(model: SqlReadModel) -> None:
    rows = [row(p, ImageStatus.PROCESSED if p % 2 else ImageStatus.FAILED) for p in range(1, 10)]
    model.save("projector", rows, position=9)

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
def test_a_cursor_it_did_not_issue_is_refused(model: SqlReadModel, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        model.list(status=None, limit=10, cursor=cursor)


def test_a_cursor_may_name_the_largest_position_the_log_can_have(model: SqlReadModel) -> None:
    model.save("projector", [row(1)], position=1)

    page = model.list(status=None, limit=10, cursor=as_cursor(BIGINT_MAX))

    assert [r.created_position for r in page.items] == [1]


def test_a_tracker_without_a_position_starts_at_zero(model: SqlReadModel) -> None:
    assert model.position("projector") == 0


def test_each_tracker_keeps_its_own_position(model: SqlReadModel) -> None:
    model.save("projector", [row(1)], position=5)
    model.set_position("relay", 9)
    model.set_position("relay", 11)

    assert (model.position("projector"), model.position("relay")) == (5, 11)
    assert model.position("janitor") == 0


def test_a_failed_save_changes_no_row_and_no_position(model: SqlReadModel) -> None:
    kept = row(1)
    model.save("projector", [kept], position=1)
    changed = msgspec.structs.replace(kept, status=ImageStatus.PROCESSING, version=2)
    broken = row(2, file_name=None)  # violates NOT NULL

    with pytest.raises(DRIVER_ERRORS):
        model.save("projector", [changed, broken], position=2)
    with pytest.raises(DRIVER_ERRORS):  # the rows go in, then the position fails
        model.save(None, [changed], position=2)  # type: ignore[arg-type]

    assert model.get(kept.id) == kept
    assert model.get(broken.id) is None
    assert model.position("projector") == 1


def test_an_unreachable_postgres_is_reported_quickly(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/none"
    started = time.monotonic()

    with pytest.raises(DependencyUnavailable):
        open_database(Settings(data_dir=tmp_path, database_url=url))

    assert time.monotonic() - started < 2


def test_an_unusable_data_dir_is_reported(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the data dir should be")

    with pytest.raises(DependencyUnavailable):
        open_database(Settings(data_dir=tmp_path / "taken"))


def test_writers_on_many_threads_at_once(model: SqlReadModel) -> None:
    rows = [row(position) for position in range(1, 41)]

    def save(r: ImageRow) -> None:
        model.save(f"worker-{r.created_position}", [r], position=r.created_position)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(save, rows))

    assert len(model.get_many(r.id for r in rows)) == 40
    assert [model.position(f"worker-{n}") for n in range(1, 41)] == list(range(1, 41))
