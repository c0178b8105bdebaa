"""The Litestar application, built from the services the composition root hands in."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusController

from api.deps import ApiServices
from api.images import ImageController
from api.problems import exception_handlers
from api.request_metrics import RequestMetrics
from api.system import health, ready

# Room for the multipart framing and the other form fields around the file, so that an
# upload just under the limit is never refused for its envelope.
FORM_OVERHEAD_BYTES = 64 * 1024

DESCRIPTION = """Upload images, process them asynchronously with a pipeline spec such as
`resize:100x100|grayscale`, and fetch the results. Every error is an RFC 9457
`application/problem+json` document.

Reads answer from a read model that follows the commands a moment behind. To read
your own writes, send the `version` a command answered with (body, or `Image-Version`
header) back with the read, as `?min_version=N` or `Min-Image-Version: N`: the answer
then reflects at least that version (right after a DELETE, 404)."""

# Grouped by route template (`/api/v1/images/{image_id}`), never by the raw path: one
# series per route, not one per image. Probes and scrapes would only drown the traffic.
REQUEST_METRICS = RequestMetrics(
    app_name="imgproc", prefix="imgproc_http", exclude=["/metrics", "/health", "/ready"]
)


class MetricsController(PrometheusController):
    """The process's metrics in the Prometheus text format."""

    include_in_schema = False


def create_app(services: ApiServices) -> Litestar:
    def provide_services() -> ApiServices:
        return services

    return Litestar(
        route_handlers=[ImageController, health, ready, MetricsController],
        middleware=[REQUEST_METRICS],
        dependencies={"services": Provide(provide_services, use_cache=True, sync_to_thread=False)},
        exception_handlers=exception_handlers(services.max_upload_bytes),
        request_max_body_size=services.max_upload_bytes + FORM_OVERHEAD_BYTES,
        openapi_config=OpenAPIConfig(
            title="image-processor",
            version="1.0.0",
            description=DESCRIPTION,
            path="/schema",
            use_handler_docstrings=True,
        ),
        # Logging belongs to the process (infra), not to the web framework.
        logging_config=None,
        debug=False,
    )
