"""The imaging benchmark's inputs and the implementations it compares, one job each."""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

# case: (input file, our spec)
CASES = {
    "a": ("photo12mp.jpg", "thumbnail:256|format:jpeg,quality=80"),
    "b": ("photo12mp.jpg", "resize:1024|format:jpeg,quality=85"),
    "c": ("photo12mp.jpg", "resize:1024|format:webp,quality=80"),
    "d": ("photo1080p.jpg", "grayscale|blur:2|format:jpeg,quality=85"),
}
INPUTS = {"photo12mp.jpg": (4000, 3000), "photo1080p.jpg": (1920, 1080)}
IMPLEMENTATIONS = ("ours", "bare", "naive", "pyvips")
# What cases a-c resample the 4000x3000 input to.
_TARGETS = {"a": (256, 192), "b": (1024, 768), "c": (1024, 768)}
_ENCODINGS: dict[str, tuple[str, dict[str, object]]] = {
    "a": ("JPEG", {"quality": 80}),
    "b": ("JPEG", {"quality": 85}),
    "c": ("WEBP", {"quality": 80, "method": 4}),
    "d": ("JPEG", {"quality": 85}),
}


def photo(size: tuple[int, int], seed: int = 7) -> Image.Image:
    """Gradients, fractal texture, hard-edged shapes, a soft focus and film grain: it
    compresses like a photo (about 3 MB at 12 MP, JPEG q90), unlike a flat test card."""
    rng = random.Random(seed)
    width, height = size
    ramp = Image.linear_gradient("L").resize(size)
    texture = ImageChops.blend(
        Image.radial_gradient("L").resize(size),
        Image.effect_mandelbrot(size, (-2.2, -1.2, 0.8, 1.2), 80),
        0.5,
    )
    image = Image.merge("RGB", (ramp, texture, ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    draw = ImageDraw.Draw(image)
    for _ in range(250):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = int(width * rng.random() ** 3 / 6) + 4
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x - radius, y - radius // 2, x + radius, y + radius // 2), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(2))
    grain = Image.merge("RGB", [Image.effect_noise(size, 40) for _ in range(3)])
    return Image.blend(image, grain, 0.2)


def implementation(name: str, case: str) -> Callable[[bytes], object]:
    """One job of `case` by implementation `name`, from the input's bytes to output bytes."""
    if name == "ours":
        from domain.spec import parse_spec
        from workers.imaging import render

        spec = parse_spec(CASES[case][1])
        return lambda data: render(data, spec, max_pixels=50_000_000)
    if name == "pyvips":
        return _pyvips(case)
    job = _bare if name == "bare" else _naive
    return lambda data: job(case, data)


def _bare(case: str, data: bytes) -> bytes:
    """The Pillow calls our pipeline makes for the case, with the same parameters."""
    image = Image.open(io.BytesIO(data))
    if case == "d":
        image.draft("L", None)  # luminance-only decode: grayscale comes first
        result = image.filter(ImageFilter.GaussianBlur(2))
    else:
        image.draft(None, _TARGETS[case])
        result = image.resize(_TARGETS[case], Image.Resampling.LANCZOS, reducing_gap=3.0)
    return _encode(result, case)


def _naive(case: str, data: bytes) -> bytes:
    """The plain script: decode at full size, then resample or filter."""
    image = Image.open(io.BytesIO(data))
    if case == "d":
        result = image.convert("L").filter(ImageFilter.GaussianBlur(2))
    else:
        result = image.resize(_TARGETS[case], Image.Resampling.LANCZOS)
    return _encode(result, case)


def _encode(image: Image.Image, case: str) -> bytes:
    format, options = _ENCODINGS[case]
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def _pyvips(case: str) -> Callable[[bytes], object]:
    import pyvips

    pyvips.cache_set_max(0)
    if case == "d":
        return lambda data: (
            pyvips.Image.new_from_buffer(data, "", access="sequential")
            .colourspace("b-w")
            .gaussblur(2)
            .write_to_buffer(".jpg[Q=85]")
        )
    width, height, suffix = {
        "a": (256, 256, ".jpg[Q=80]"),
        "b": (1024, 100_000, ".jpg[Q=85]"),
        "c": (1024, 100_000, ".webp[Q=80]"),
    }[case]
    return lambda data: pyvips.Image.thumbnail_buffer(data, width, height=height).write_to_buffer(
        suffix
    )


def simd_build() -> str:
    """Which SIMD level the installed Pillow(-SIMD) was compiled for, and the evidence:
    the compiler flags its debug information records, and the instructions on AVX's
    256-bit ymm registers in its core module (none without AVX2 code paths)."""
    import PIL
    from PIL import _imaging

    binary = Path(_imaging.__file__ or "")
    flags = set()
    for producer in re.findall(rb"GNU C[0-9]* [0-9.]+ ([ -~]+)", binary.read_bytes()):
        flags |= {flag for flag in producer.decode().split() if flag.startswith(("-m", "-march"))}
    level = next(
        (f.removeprefix("-m").upper() for f in ("-mavx2", "-msse4") if f in flags), "unknown"
    )
    evidence = " ".join(sorted(f for f in flags if f.startswith(("-mavx", "-msse", "-march"))))
    ymm = "?"
    if shutil.which("objdump"):
        listing = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", str(binary)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        ymm = str(listing.count("%ymm"))
    with open("/proc/cpuinfo") as cpu:
        has_avx2 = "yes" if re.search(r"\bavx2\b", cpu.read()) else "no"
    return (
        f"Pillow {PIL.__version__}: built for {level} (flags: {evidence or 'not recorded'}; "
        f"ymm instructions: {ymm}); AVX2 on this CPU: {has_avx2}"
    )
