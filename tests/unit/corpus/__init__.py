"""Awkward inputs, made in code: the files that break naive image pipelines."""

from __future__ import annotations

from PIL import Image

from tests.unit.images import ORIENTATION, marked_corner, save


def cmyk_jpeg(colour: tuple[int, int, int, int], size: tuple[int, int] = (32, 24)) -> bytes:
    return save(Image.new("CMYK", size, colour), "JPEG", quality=95)


def progressive_jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    return save(marked_corner(size), "JPEG", quality=90, progressive=True)


def sixteen_bit_png(level: int, size: tuple[int, int] = (16, 8)) -> bytes:
    """A 16-bit grayscale PNG of one level in 0..65535."""
    return save(Image.new("I;16", size, level), "PNG")


def palette_png_with_transparency(size: tuple[int, int] = (20, 10)) -> bytes:
    """A palette image whose left half uses a colour marked transparent."""
    image = Image.new("P", size, 1)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(0, (0, 0, size[0] // 2, size[1]))
    return save(image, "PNG", transparency=0)


def animated(
    format: str = "GIF",
    colours: tuple[tuple[int, int, int], ...] = ((255, 0, 0), (0, 255, 0), (0, 0, 255)),
    size: tuple[int, int] = (40, 20),
    durations: tuple[int, ...] = (100, 200, 300),
    loop: int | None = 0,
) -> bytes:
    """One flat colour per frame, with a black block in the top-left corner."""
    frames = []
    for colour in colours:
        frame = Image.new("RGB", size, colour)
        frame.paste((0, 0, 0), (0, 0, size[0] // 4, size[1] // 4))
        frames.append(frame)
    options: dict[str, object] = {"duration": list(durations[: len(frames)])}
    if loop is not None:
        options["loop"] = loop
    return save(frames[0], format, save_all=True, append_images=frames[1:], **options)


def oriented_jpeg(orientation: int, size: tuple[int, int] = (40, 20)) -> bytes:
    """Stored pixels with a black top-left corner, and an EXIF orientation to apply."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return save(marked_corner(size), "JPEG", quality=95, exif=exif.tobytes())


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def detailed_patch(size: tuple[int, int], at: tuple[int, int], patch: int) -> Image.Image:
    """Flat gray with one square of fine checkerboard: the only detail in the picture."""
    image = Image.new("RGB", size, (128, 128, 128))
    for y in range(at[1], at[1] + patch):
        for x in range(at[0], at[0] + patch):
            image.putpixel((x, y), (0, 0, 0) if (x // 2 + y // 2) % 2 else (255, 255, 255))
    return image
