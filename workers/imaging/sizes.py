"""Size arithmetic of the geometric operations, shared by the planner and the operations."""

from __future__ import annotations

import math

from domain.operations import Crop, Operation, Resize, Rotate, Thumbnail

Size = tuple[int, int]


def fit(size: Size, box_width: int | None, box_height: int | None, upscale: bool) -> Size:
    """The largest size of the same aspect that fits the box (one side may be open)."""
    width, height = size
    by_width = box_width is not None and (
        box_height is None or box_width * height <= box_height * width
    )
    if by_width and box_width is not None:
        if box_width >= width and not upscale:
            return size
        return box_width, max(1, round(height * box_width / width))
    assert box_height is not None  # the grammar guarantees one side of the box
    if box_height >= height and not upscale:
        return size
    return max(1, round(width * box_height / height)), box_height


def fill_target(size: Size, box: Size, upscale: bool) -> Size:
    """What fill produces: the box, or, for a small image not upscaled, the box's shape."""
    shrink = 1.0 if upscale else min(1.0, size[0] / box[0], size[1] / box[1])
    return max(1, round(box[0] * shrink)), max(1, round(box[1] * shrink))


def cover(size: Size, target: Size) -> Size:
    """The smallest size of the same aspect as `size` that covers `target`."""
    scale = max(target[0] / size[0], target[1] / size[1])
    return max(target[0], math.ceil(size[0] * scale)), max(target[1], math.ceil(size[1] * scale))


def resampled(operation: Resize | Thumbnail, size: Size) -> Size:
    """The size a resize or thumbnail resamples the whole image to (before fill crops)."""
    match operation:
        case Thumbnail(size=box):
            return fit(size, box, box, upscale=False)
        case Resize(mode="force", width=int(width), height=int(height)):
            return width, height
        case Resize(mode="fill", width=int(width), height=int(height)):
            return cover(size, fill_target(size, (width, height), operation.upscale))
        case Resize():
            return fit(size, operation.width, operation.height, operation.upscale)
    raise AssertionError(operation)


def result_size(operation: Operation, size: Size) -> Size:
    """The size after one operation; an estimate for a crop that would fail."""
    match operation:
        case Resize(mode="fill", width=int(width), height=int(height)):
            return fill_target(size, (width, height), operation.upscale)
        case Resize() | Thumbnail():
            return resampled(operation, size)
        case Crop(x=x, y=y, width=width, height=height):
            clamped = (min(x + width, size[0]) - x, min(y + height, size[1]) - y)
            return clamped if min(clamped) > 0 else size
        case Rotate(degrees=degrees, expand=expand):
            return rotated_size(size, degrees, expand)
    return size


def rotated_size(size: Size, degrees: float, expand: bool) -> Size:
    if degrees in (90, 270) and expand:
        return size[1], size[0]
    if not expand or degrees in (0, 180):
        return size
    radians = math.radians(degrees)
    cos, sin = abs(math.cos(radians)), abs(math.sin(radians))
    width, height = size
    return math.ceil(width * cos + height * sin), math.ceil(width * sin + height * cos)


def pixels(size: Size) -> int:
    return size[0] * size[1]
