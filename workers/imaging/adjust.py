"""Operations that change colours and detail but not the size."""

from __future__ import annotations

from PIL import Image, ImageFilter

from workers.imaging.paint import has_alpha, premultiplied


def grayscale(image: Image.Image) -> Image.Image:
    if image.mode in ("L", "LA"):
        return image
    return image.convert("LA" if has_alpha(image) else "L")


def blur(image: Image.Image, sigma: float) -> Image.Image:
    # Pillow's GaussianBlur takes the standard deviation as its "radius".
    return premultiplied(image, lambda im: im.filter(ImageFilter.GaussianBlur(sigma)))


def sharpen(image: Image.Image, amount: int, radius: float, threshold: int) -> Image.Image:
    mask = ImageFilter.UnsharpMask(radius, amount, threshold)
    return premultiplied(image, lambda im: im.filter(mask))


def brightness(image: Image.Image, factor: float) -> Image.Image:
    """Scale every colour sample by `factor` (alpha untouched), by table lookup."""
    if factor == 1:
        return image
    table = [min(255, round(value * factor)) for value in range(256)]
    return _per_colour_band(image, table)


def contrast(image: Image.Image, factor: float) -> Image.Image:
    """Move samples away from (or toward) the image's mean gray by `factor`."""
    if factor == 1:
        return image
    mean = round(_mean_luminance(image))
    table = [min(255, max(0, round(mean + (value - mean) * factor))) for value in range(256)]
    return _per_colour_band(image, table)


def _mean_luminance(image: Image.Image) -> float:
    """The mean of the L conversion, from the bands' histograms: no gray copy is made."""
    histogram = image.histogram()
    means = []
    for band in range(len(image.getbands())):
        counts = histogram[band * 256 : (band + 1) * 256]
        means.append(sum(value * count for value, count in enumerate(counts)) / sum(counts))
    if image.mode in ("L", "LA"):
        return means[0]
    return (299 * means[0] + 587 * means[1] + 114 * means[2]) / 1000


def _per_colour_band(image: Image.Image, table: list[int]) -> Image.Image:
    bands = len(image.getbands())
    identity = list(range(256))
    colour_bands = bands - 1 if has_alpha(image) else bands
    return image.point(table * colour_bands + identity * (bands - colour_bands))
