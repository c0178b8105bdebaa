"""Positions of the Kafka consumers.

- `kafka_offsets`: the next offset to read, per consumer and partition, for a
  consumer that stores its offsets in the same transaction as its own writes
  (the projector), and so seeks to them whenever it is assigned a partition.
- `consumer_versions`: the newest version of each image a consumer has
  handled, so a redelivered event is skipped and a lost one noticed.

The relay keeps its position in `tracking` (0001), like every follower of the
event log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    uuid: sa.types.TypeEngine[object] = sa.Uuid(as_uuid=True) if postgres else sa.Text()

    op.create_table(
        "kafka_offsets",
        sa.Column("consumer", sa.Text(), primary_key=True),
        sa.Column("topic", sa.Text(), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "consumer_versions",
        sa.Column("consumer", sa.Text(), primary_key=True),
        sa.Column("image_id", uuid, primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("consumer_versions")
    op.drop_table("kafka_offsets")
