"""`imgproc api`: the HTTP API alone, on the configured stores."""

from __future__ import annotations

import logging

from api.app import create_app
from cli.bootstrap import api_services, open_blob_store, open_core
from cli.processes.http import serve_http
from cli.processes.lifecycle import check_migrated
from infra.settings import Settings

log = logging.getLogger(__name__)


async def run_api(settings: Settings) -> None:
    check_migrated(settings)
    async with open_blob_store(settings) as blobs:
        with open_core(settings, migrate=False, blobs=blobs) as core:
            await serve_http(create_app(api_services(core)), settings)
