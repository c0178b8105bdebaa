"""A processor busy with a batch stays in its consumer group: it reads few records at a
time and is given long enough to render them all before it must fetch again."""

from __future__ import annotations

import pytest

from cli.bootstrap import Role, batch_size, max_poll_interval_ms
from infra.kafka import MAX_POLL_INTERVAL_MS
from infra.settings import Settings
from workers.processor import TIME_LIMIT_GRACE


def slowest_batch_ms(settings: Settings) -> float:
    """Every image of the batch taking its full time limit, processing_workers at a time."""
    images = batch_size(settings, Role.PROCESSOR)
    rounds = -(-images // settings.processing_workers)
    return rounds * (settings.processing_time_limit + TIME_LIMIT_GRACE) * 1000


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(processing_workers=1, processing_time_limit=120.0),
        Settings(processing_workers=3, kafka_batch_size=10),
        Settings(processing_workers=16, processing_time_limit=5.0),
    ],
)
def test_a_whole_processor_batch_fits_within_the_poll_interval(settings: Settings) -> None:
    assert max_poll_interval_ms(settings, Role.PROCESSOR) > slowest_batch_ms(settings)


def test_the_processor_reads_a_few_rounds_of_images_per_batch() -> None:
    settings = Settings(processing_workers=2, kafka_batch_size=256)

    assert 2 <= batch_size(settings, Role.PROCESSOR) <= 16
    assert batch_size(Settings(kafka_batch_size=3), Role.PROCESSOR) == 3


def test_the_poll_interval_is_never_shorter_than_the_default() -> None:
    quick = Settings(processing_time_limit=0.5, processing_workers=8)

    assert max_poll_interval_ms(quick, Role.PROCESSOR) == MAX_POLL_INTERVAL_MS


@pytest.mark.parametrize("role", [Role.PROJECTOR, Role.JANITOR])
def test_the_quick_roles_keep_the_configured_batch_and_default_interval(role: Role) -> None:
    settings = Settings(kafka_batch_size=500)

    assert batch_size(settings, role) == 500
    assert max_poll_interval_ms(settings, role) == MAX_POLL_INTERVAL_MS
