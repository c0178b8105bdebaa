"""Kafka consumers keep their offsets in Kafka alone.

Every consumer is idempotent on (image id, version) inside its own effect, so
neither the offsets stored beside the projector's rows (`kafka_offsets`) nor
the versions each consumer had handled (`consumer_versions`) are needed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    op.drop_table("consumer_versions")
    op.drop_table("kafka_offsets")


def downgrade() -> None:
    """The tables come back empty; consumers of revision 0002 start filling them again."""
    path = Path(__file__).with_name("0002_kafka_positions.py")
    spec = importlib.util.spec_from_file_location("kafka_positions", path)
    assert spec is not None and spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    previous.upgrade()
