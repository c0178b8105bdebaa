"""The production processes: `imgproc api | process | project | relay | janitor`.

Each runs one role on the configured stores (cli/processes/), logs its
settings (secrets masked), serves its metrics (the API on /metrics, the others on
`metrics_port` when set), stops cleanly on SIGTERM or Ctrl-C, and, when a
dependency cannot be reached at start, says so in one line and exits 1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from infra.settings import Settings

log = logging.getLogger(__name__)

Role = Callable[[Settings], Coroutine[Any, Any, None]]


def _roles() -> dict[str, Role]:
    # Imported on demand: `imgproc --help` need not load uvicorn, Pillow and the drivers.
    from functools import partial

    from cli.processes.api import run_api
    from cli.processes.relay import run_relay
    from cli.processes.workers import run_worker

    return {
        "api": run_api,
        "processor": partial(run_worker, "processor"),
        "projector": partial(run_worker, "projector"),
        "janitor": partial(run_worker, "janitor"),
        "relay": run_relay,
    }


def run_role(role: str, settings: Settings) -> None:
    """Run the role until signalled; exit 1 with one line when it cannot start."""
    from cli.processes.lifecycle import exit_on_startup_error, log_settings, run_until_signalled
    from infra.metrics import serve_metrics

    main = _roles()[role]
    log_settings(role, settings)
    with exit_on_startup_error():
        if role != "api":  # the API serves its metrics on its own /metrics
            serve_metrics(settings.host, settings.metrics_port)
        run_until_signalled(main(settings))
