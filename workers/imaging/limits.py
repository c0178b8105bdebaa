"""What one job may use: pixels, output sides, frames and time; and the error it fails with."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PIL import Image

from workers.imaging.sizes import Size

MAX_OUTPUT_DIMENSION = 16384
MAX_FRAMES = 1000


class ProcessingError(Exception):
    """An image that cannot be processed; `reason` is short and fit to record in an event."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_dimension: int = MAX_OUTPUT_DIMENSION
    deadline: float | None = None  # on the time.monotonic() clock
    time_limit: float | None = None  # seconds, for the message

    @classmethod
    def starting_now(cls, max_pixels: int, max_dimension: int, time_limit: float | None) -> Limits:
        deadline = None if time_limit is None else time.monotonic() + time_limit
        return cls(max_pixels, max_dimension, deadline, time_limit)

    def check_input(self, size: Size, frames: int = 1) -> None:
        """The decoded image (all its frames) fits the pixel limit; read from the header."""
        total = size[0] * size[1] * frames
        if frames > MAX_FRAMES:
            raise ProcessingError(f"the animation has {frames} frames, more than {MAX_FRAMES}")
        if total > self.max_pixels:
            what = "the image" if frames == 1 else f"the animation's {frames} frames"
            raise ProcessingError(
                f"{what} has {total} pixels, more than the limit of {self.max_pixels}"
            )

    def check_result(self, size: Size, what: str = "the result") -> None:
        """A step's result fits both the pixel limit and the limit on each side."""
        width, height = size
        if width > self.max_dimension or height > self.max_dimension:
            raise ProcessingError(
                f"{what} would be {width}x{height}, over {self.max_dimension} pixels a side"
            )
        if width * height > self.max_pixels:
            raise ProcessingError(
                f"{what} has {width * height} pixels, more than the limit of {self.max_pixels}"
            )

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ProcessingError(f"processing took longer than {self.time_limit:g} s")


def buffer_bytes(image: Image.Image) -> int:
    """The size of an image's pixel buffer: Pillow keeps 1, 2 or 4 bytes a pixel."""
    per_pixel = 1 if image.mode in ("1", "L", "P") else 2 if image.mode.startswith("I;16") else 4
    return image.width * image.height * per_pixel
