"""`imgproc dev`: API, processor, projector and janitor in one process."""

from __future__ import annotations

import asyncio
import logging

from api.app import create_app
from cli.bootstrap import api_services, log_followers, open_blob_store, open_core
from cli.processes.http import check_can_listen, serve_http
from infra.settings import Settings

log = logging.getLogger(__name__)


async def serve_embedded(settings: Settings) -> None:
    check_can_listen(settings.host, settings.port)  # before the data directory is created
    async with open_blob_store(settings) as blobs:
        with open_core(settings, blobs=blobs) as core:
            core.doorbell.bind(asyncio.get_running_loop())
            log.info(
                "data in %s, %s, blobs in %s",
                settings.data_dir,
                "PostgreSQL" if settings.uses_postgres else "SQLite",
                f"S3 bucket {settings.bucket}" if settings.uses_s3 else settings.blob_dir,
            )
            followers = log_followers(core)
            await serve_http(create_app(api_services(core)), settings, [f.run for f in followers])
    log.info("stopped")
