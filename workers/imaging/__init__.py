"""The pixel pipeline, on Pillow-SIMD: decode once, run a spec's steps, encode.

CPU-bound and synchronous; the processor runs it in a worker thread. The flow:

    decode.open_source   header only: allow-listed format, pixel and frame limits
    plan.plan            EXIF orientation as steps, shrinking resizes moved first
    decode.shrink_on_load / decode_still   JPEG scaled decode, sRGB, working mode
    steps.apply          geometry, adjust, watermark: one picture, one step
    encode.encode        format options, metadata, alpha flattening, animation

Errors: every failure is a ProcessingError whose `reason` is short and names the
cause (limits, a crop outside the image, a truncated file, ...); nothing else escapes.

Memory: one decode per job, at full size at most (a JPEG is often decoded at 1/2 to
1/8 scale), released once the first step has copied it. A step holds its input and its
output, 4 bytes a pixel (1 for gray), and a filter (blur, sharpen) one more temporary
inside Pillow: a still needs at most about three times its largest working image, some
600 MB at the 50 MP limit, and a shrinking resize far less (22 MiB for 12 MP to 1024
wide). An animation also holds its output frames, which together obey the pixel
limit. `Rendered.peak_bytes` reports the step buffers a job held at once.

Time: `render(..., time_limit=seconds)` checks a deadline before every step, every
animation frame and the encoding; one Pillow call in progress is not interrupted, so
a caller that must answer on time also waits with its own timeout.
"""

from workers.imaging.encode import EXTENSIONS
from workers.imaging.limits import MAX_OUTPUT_DIMENSION, ProcessingError
from workers.imaging.render import Rendered, render

__all__ = ["MAX_OUTPUT_DIMENSION", "ProcessingError", "Rendered", "render", "result_extension"]


def result_extension(format: str) -> str:
    """The file extension for a result in one of our output formats ('jpeg' -> 'jpg')."""
    try:
        return EXTENSIONS[format]
    except KeyError:
        raise ValueError(f"no extension for format {format!r}") from None
