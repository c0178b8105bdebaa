"""Hypothesis strategies for spec text, in the surface forms a client may write."""

from __future__ import annotations

from hypothesis import strategies as st

from domain.spec_parsers import GRAVITIES, POSITIONS

OPERATION_NAMES = {
    *("resize", "thumbnail", "crop", "grayscale", "blur", "sharpen", "rotate", "flip"),
    *("brightness", "contrast", "watermark", "format"),
}


def any_case(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.capitalize()])


def decimal_text(low: float, high: float, *, above: bool = False) -> st.SearchStrategy[str]:
    """Decimal numbers as a client writes them, within [low, high] (or (low, high])."""
    digits = st.text("0123456789", max_size=5)
    return (
        st.tuples(st.sampled_from(["", "-", "+"]), st.integers(0, int(high)), digits)
        .map(lambda parts: f"{parts[0]}{parts[1]}" + (f".{parts[2]}" if parts[2] else ""))
        .map(lambda text: (text, round(float(text), 3)))
        .filter(lambda pair: (low < pair[1] if above else low <= pair[1]) and pair[1] <= high)
        .map(lambda pair: pair[0])
    )


_bool = st.sampled_from(["true", "false", "TRUE", "False"])
_hex = st.text("0123456789abcdefABCDEF", min_size=6, max_size=6)
colour_text = st.one_of(_hex, _hex.map(lambda six: "#" + six + "80"), st.just("fff"))
# Printable text with the characters the grammar reserves, written as a client must.
watermark_text = (
    st.text(
        st.characters(codec="utf-8", categories=("L", "N", "P", "S"), include_characters=" "),
        max_size=20,
    )
    .filter(lambda text: text.strip() != "")
    .map(lambda text: "".join(f"%{ord(c):02X}" if c in "%|,=" else c for c in text))
    .map(lambda text: text.replace(" ", "%20") if text[0] == " " or text[-1] == " " else text)
)


def operation_text(largest: int = 16384) -> st.SearchStrategy[str]:
    """One valid operation, with sizes up to `largest` pixels."""
    dimension = st.integers(1, largest).map(str)
    return st.one_of(
        _resize(dimension),
        dimension.map(lambda size: f"thumbnail:{size}"),
        st.tuples(st.integers(0, largest), st.integers(0, largest), dimension, dimension).map(
            lambda box: "crop:" + ",".join(map(str, box))
        ),
        any_case("grayscale"),
        decimal_text(0, 100, above=True).map(lambda sigma: f"blur:{sigma}"),
        _sharpen(),
        st.tuples(decimal_text(-36000, 36000), st.none() | _bool, st.none() | colour_text).map(
            lambda rotate: (
                f"rotate:{rotate[0]}"
                + (f",expand={rotate[1]}" if rotate[1] else "")
                + (f",background={rotate[2]}" if rotate[2] else "")
            )
        ),
        st.sampled_from(["flip:h", "flip:v", "flip:H"]),
        decimal_text(0, 10).map(lambda factor: f"brightness:{factor}"),
        decimal_text(0, 10).map(lambda factor: f"contrast:{factor}"),
        _watermark(),
        _format(),
    )


def spec_text(largest: int = 16384, max_operations: int = 6) -> st.SearchStrategy[str]:
    return st.lists(operation_text(largest), min_size=1, max_size=max_operations).map("|".join)


def _resize(dimension: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    @st.composite
    def resize(draw: st.DrawFn) -> str:
        width, height = draw(dimension), draw(dimension)
        box = draw(st.sampled_from([f"{width}x{height}", f"{width}X{height}", width, f"x{height}"]))
        options = []
        both_sides = "x" in box.lower() and not box.lower().startswith("x")
        mode = draw(st.sampled_from(["fit", "fill", "force", "FILL"])) if both_sides else "fit"
        if mode != "fit" or draw(st.booleans()):
            options.append(f"mode={mode}")
        if mode.lower() == "fill" and draw(st.booleans()):
            options.append("gravity=" + draw(st.sampled_from(GRAVITIES)))
        if draw(st.booleans()):
            options.append("upscale=" + draw(_bool))
        return ",".join([draw(any_case("resize")) + ":" + box, *draw(st.permutations(options))])

    return resize()


@st.composite
def _sharpen(draw: st.DrawFn) -> str:
    options = []
    if draw(st.booleans()):
        options.append(f"amount={draw(st.integers(1, 500))}")
    if draw(st.booleans()):
        options.append(f"radius={draw(decimal_text(0, 100, above=True))}")
    if draw(st.booleans()):
        options.append(f"threshold={draw(st.integers(0, 255))}")
    options = draw(st.permutations(options))
    return "sharpen" + (":" + ",".join(options) if options else "")


@st.composite
def _watermark(draw: st.DrawFn) -> str:
    options = []
    if draw(st.booleans()):
        options.append("position=" + draw(st.sampled_from(POSITIONS)))
    if draw(st.booleans()):
        options.append(f"opacity={draw(decimal_text(0, 1, above=True))}")
    if draw(st.booleans()):
        options.append(f"size={draw(st.integers(4, 40))}")
    return ",".join([f"watermark:{draw(watermark_text)}", *draw(st.permutations(options))])


@st.composite
def _format(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["jpeg", "jpg", "JPG", "png", "webp", "gif", "avif"]))
    options = []
    lossless = name == "webp" and draw(st.booleans())
    if lossless:
        options.append("lossless=true")
    if name.lower() in ("jpeg", "jpg", "webp", "avif") and not lossless and draw(st.booleans()):
        options.append(f"quality={draw(st.integers(1, 100))}")
    if name.lower() in ("jpeg", "jpg") and draw(st.booleans()):
        options.append(f"progressive={draw(_bool)}")
    if name.lower() in ("jpeg", "jpg") and draw(st.booleans()):
        options.append(f"background={draw(colour_text)}")
    if draw(st.booleans()):
        options.append(f"strip={draw(_bool)}")
    return ",".join([f"format:{name}", *draw(st.permutations(options))])
