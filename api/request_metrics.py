"""Request counts and durations for Prometheus, one series per route template.

The metrics, names and labels of Litestar's Prometheus middleware (`<prefix>_requests_total`,
`_request_duration_seconds`, `_requests_in_progress`, `_requests_error_total`; labels
method, path, status_code, app_name), counted at a fraction of its cost per request: no
Request object, no label dictionaries, and each series' child looked up once. On a
one-row read the framework's middleware cost about a third of the throughput.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

LABELS = ("method", "path", "status_code", "app_name")


class RequestMetrics:
    """A Litestar middleware factory: `middleware=[RequestMetrics(...)]`. Paths in
    `exclude` (exact, e.g. probes and scrapes) are not counted."""

    def __init__(self, app_name: str, prefix: str, exclude: Collection[str] = ()) -> None:
        self.app_name = app_name
        self.exclude = frozenset(exclude)
        self.requests = _metric(Counter, f"{prefix}_requests_total", "Total requests")
        self.errors = _metric(Counter, f"{prefix}_requests_error_total", "Total errors in requests")
        self.duration = _metric(
            Histogram, f"{prefix}_request_duration_seconds", "Request duration, in seconds"
        )
        self.in_progress = _metric(
            Gauge,
            f"{prefix}_requests_in_progress",
            "Total requests currently in progress",
            multiprocess_mode="livesum",
        )
        self._series: dict[tuple[str, str, int], tuple[Any, Any, Any | None]] = {}

    def __call__(self, app: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or scope["path"] in self.exclude:
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 200

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            method, route = scope["method"], scope.get("path_template", scope["path"])
            # In progress is labelled 200 throughout, as Litestar's middleware does.
            in_progress = self.in_progress.labels(method, route, 200, self.app_name)
            in_progress.inc()
            try:
                await app(scope, receive, send_status)
            finally:
                in_progress.dec()
                requests, duration, errors = self._children(method, route, status)
                requests.inc()
                duration.observe(time.perf_counter() - started)
                if errors is not None:
                    errors.inc()

        return counted

    def _children(self, method: str, route: str, status: int) -> tuple[Any, Any, Any | None]:
        key = (method, route, status)
        if (children := self._series.get(key)) is None:
            values = (method, route, status, self.app_name)
            errors = self.errors.labels(*values) if status >= 500 else None
            children = (self.requests.labels(*values), self.duration.labels(*values), errors)
            self._series[key] = children
        return children


_METRICS: dict[str, Any] = {}


def _metric(kind: type[Any], name: str, documentation: str, **options: Any) -> Any:
    """One metric per name and process: every app built in a process (tests build many)
    counts into the same series, as the registry allows each name once."""
    if name not in _METRICS:
        _METRICS[name] = kind(name, documentation, LABELS, **options)
    return _METRICS[name]
