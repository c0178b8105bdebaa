"""The pixel pipeline's public face; the pipeline itself lives in workers.imaging."""

from workers.imaging import (
    MAX_OUTPUT_DIMENSION,
    ProcessingError,
    Rendered,
    render,
    result_extension,
)

__all__ = ["MAX_OUTPUT_DIMENSION", "ProcessingError", "Rendered", "render", "result_extension"]
