"""Alembic migrations: the one way to create and upgrade every table.

Run them with `infra.migrate.upgrade(settings)`; there is no alembic.ini, the
configuration is built in code from Settings.
"""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).parent
