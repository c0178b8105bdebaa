"""What the service counts, for Prometheus: defined once per process, in the default registry.

The API serves them on `/metrics`; the worker processes on their own port when
`metrics_port` is set. Request counts and durations come from the web framework.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, Summary, start_http_server

# A small image takes tens of milliseconds, a large animated one up to the 30 s time limit.
PROCESSING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)

images_uploaded = Counter("imgproc_images_uploaded_total", "Uploads accepted (202)")
processing_results = Counter(
    "imgproc_processing_results_total", "Processing requests answered, by outcome", ["outcome"]
)
processing_duration = Histogram(
    "imgproc_processing_duration_seconds",
    "Time to render one result, retries included",
    buckets=PROCESSING_BUCKETS,
)
# Where a processed image's time goes: "load" (the aggregate), "read" (the original),
# "render", within it "wait" (for a free worker), "decode", "operations" and "encode"
# (measured where the job runs), "write" (the result) and "record" (the event).
processing_stage = Summary(
    "imgproc_processing_stage_seconds", "Time per stage of processing one image", ["stage"]
)
events_handled = Counter(
    "imgproc_events_handled_total", "Events handed to each consumer", ["consumer"]
)


def serve_metrics(host: str, port: int | None) -> None:
    """Serve the default registry on its own port, in a daemon thread; no port, no server."""
    if port is not None:
        start_http_server(port, addr=host)
