"""The processing-spec grammar: what parses, what it means, and how errors name the culprit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidSpec
from domain.spec import (
    Blur,
    Crop,
    Flip,
    Format,
    Grayscale,
    Resize,
    Rotate,
    Sharpen,
    Spec,
    Thumbnail,
    parse_spec,
)

OPERATION_NAMES = {
    *("resize", "thumbnail", "crop", "grayscale", "blur", "sharpen"),
    *("rotate", "flip", "brightness", "contrast", "format"),
}


def test_the_seed_spec_means_fit_into_a_100_pixel_box_and_is_already_canonical() -> None:
    spec = parse_spec("resize:100x100")

    assert spec.operations == (Resize(100, 100, mode="fit", upscale=False),)
    assert spec.canonical == "resize:100x100"
    assert spec.output_format is None


def test_a_pipeline_keeps_its_operations_in_order() -> None:
    spec = parse_spec("crop:0,0,10,20|thumbnail:64|grayscale|blur:1.5|flip:v|format:png")

    assert spec.operations == (
        Crop(0, 0, 10, 20),
        Thumbnail(64),
        Grayscale(),
        Blur(1.5),
        Flip("v"),
        Format("png"),
    )


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("blur:2.0", "blur:2"),
        ("blur:2", "blur:2"),
        ("blur:0.50", "blur:0.5"),
        ("format:jpg", "format:jpeg"),
        ("format:JPEG,quality=85", "format:jpeg"),
        ("format:webp,quality=80", "format:webp"),
        ("format:webp,quality=60", "format:webp,quality=60"),
        ("rotate:-90", "rotate:270"),
        ("rotate:720.0", "rotate:0"),
        ("rotate:90,expand=true", "rotate:90"),
        ("rotate:90,expand=FALSE", "rotate:90,expand=false"),
        ("resize:200", "resize:200"),
        ("resize:x200,upscale=false", "resize:x200"),
        ("resize:10X20,mode=fit", "resize:10x20"),
        ("resize:10x20,upscale=true,mode=fill", "resize:10x20,mode=fill,upscale=true"),
        ("resize:10x20,mode=force,upscale=true", "resize:10x20,mode=force"),
        ("sharpen:amount=150,radius=2.0,threshold=3", "sharpen"),
        ("sharpen:threshold=0", "sharpen:threshold=0"),
        (" Grayscale | FLIP:H ", "grayscale|flip:h"),
        ("thumbnail:0064", "thumbnail:64"),
        ("brightness:1.0", "brightness:1"),
    ],
)
def test_equivalent_spellings_share_one_canonical_form(written: str, canonical: str) -> None:
    spec = parse_spec(written)

    assert spec.canonical == canonical
    assert parse_spec(canonical) == spec


def test_the_digest_identifies_the_canonical_form() -> None:
    first, second = parse_spec("blur:2.0|format:jpg"), parse_spec("blur:2|format:jpeg,quality=85")

    assert first == second and hash(first) == hash(second)
    assert first.digest == second.digest
    assert len(first.digest) == 16 and int(first.digest, 16) >= 0
    assert parse_spec("blur:3").digest != first.digest


def test_the_last_format_decides_the_output() -> None:
    assert parse_spec("format:png|resize:10|format:webp").output_format == "webp"
    assert parse_spec("resize:10").output_format is None


def test_sharpen_takes_named_options() -> None:
    assert parse_spec("sharpen:radius=1.5,amount=200").operations == (Sharpen(200, 1.5, 3),)


def test_rotation_defaults_to_expanding_the_canvas() -> None:
    assert parse_spec("rotate:30").operations == (Rotate(30.0, expand=True),)


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_a_blank_spec_is_rejected(blank: str) -> None:
    with pytest.raises(InvalidSpec, match="empty"):
        parse_spec(blank)


@pytest.mark.parametrize(
    ("text", "token", "reason"),
    [
        ("resize:abc", "resize:abc", "not WxH"),
        ("frobnicate", "frobnicate", "unknown operation"),
        ("grayscale|frobnicate:3", "frobnicate", "unknown operation"),
        ("resize:0x10", "resize:0x10", "outside 1..16384"),
        ("resize:20000", "resize:20000", "outside 1..16384"),
        ("resize:10,mode=fill", "resize:10,mode=fill", "needs both"),
        ("resize:10x10,mode=stretch", "resize:10x10,mode=stretch", "fit, fill, force"),
        ("resize:10,upscale=yes", "resize:10,upscale=yes", "true, false"),
        ("resize:10,colour=red", "resize:10,colour=red", "unknown option 'colour'"),
        ("resize:10,mode=fit,mode=fill", "resize:10,mode=fit,mode=fill", "twice"),
        ("resize:10,mode=fit,20", "resize:10,mode=fit,20", "positional"),
        ("blur:0", "blur:0", "above 0"),
        ("blur:-1", "blur:-1", "above 0"),
        ("blur:nan", "blur:nan", "not a number"),
        ("resize:\u0661\u0660\u0660", "resize:\u0661\u0660\u0660", "not WxH"),
        ("blur:1e3", "blur:1e3", "not a number"),
        ("crop:1,2,3", "crop:1,2,3", "X,Y,W,H"),
        ("crop:0,0,0,5", "crop:0,0,0,5", "width"),
        ("grayscale:1", "grayscale:1", "no arguments"),
        ("flip:d", "flip:d", "h, v"),
        ("format:bmp", "format:bmp", "jpeg, png, webp, gif"),
        ("format:png,quality=50", "format:png,quality=50", "jpeg and webp"),
        ("format:jpeg,quality=0", "format:jpeg,quality=0", "1..100"),
        ("format:jpeg,quality=9.5", "format:jpeg,quality=9.5", "whole number"),
        ("brightness:11", "brightness:11", "at most 10"),
        ("resize:10|", "", "empty operation"),
        ("resize:10,", "resize:10,", "empty argument"),
    ],
)
def test_an_invalid_spec_names_the_offending_token_and_why(
    text: str, token: str, reason: str
) -> None:
    with pytest.raises(InvalidSpec) as raised:
        parse_spec(text)

    assert raised.value.token == token
    assert reason in raised.value.reason


def test_an_overlong_spec_is_rejected() -> None:
    with pytest.raises(InvalidSpec, match="operations"):
        parse_spec("|".join(["grayscale"] * 33))
    with pytest.raises(InvalidSpec, match="longer than"):
        parse_spec("grayscale|" * 200)


# Generated specs: the surface forms a client may write.


def _any_case(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.capitalize()])


def _decimal_text(low: float, high: float, *, above: bool = False) -> st.SearchStrategy[str]:
    """Decimal numbers as a client writes them, within [low, high] (or (low, high])."""
    digits = st.text("0123456789", max_size=5)
    return (
        st.tuples(st.sampled_from(["", "-", "+"]), st.integers(0, int(high)), digits)
        .map(lambda parts: f"{parts[0]}{parts[1]}" + (f".{parts[2]}" if parts[2] else ""))
        .map(lambda text: (text, round(float(text), 3)))
        .filter(lambda pair: (low < pair[1] if above else low <= pair[1]) and pair[1] <= high)
        .map(lambda pair: pair[0])
    )


_dimension = st.integers(1, 16384).map(str)
_bool = st.sampled_from(["true", "false", "TRUE", "False"])


@st.composite
def _resize(draw: st.DrawFn) -> str:
    width, height = draw(_dimension), draw(_dimension)
    box = draw(st.sampled_from([f"{width}x{height}", f"{width}X{height}", width, f"x{height}"]))
    options = []
    has_both_sides = "x" in box.lower() and not box.lower().startswith("x")
    if has_both_sides and draw(st.booleans()):
        options.append("mode=" + draw(st.sampled_from(["fit", "fill", "force", "FILL"])))
    if draw(st.booleans()):
        options.append("upscale=" + draw(_bool))
    return ",".join([draw(_any_case("resize")) + ":" + box, *draw(st.permutations(options))])


@st.composite
def _sharpen(draw: st.DrawFn) -> str:
    options = []
    if draw(st.booleans()):
        options.append(f"amount={draw(st.integers(1, 500))}")
    if draw(st.booleans()):
        options.append(f"radius={draw(_decimal_text(0, 100, above=True))}")
    if draw(st.booleans()):
        options.append(f"threshold={draw(st.integers(0, 255))}")
    options = draw(st.permutations(options))
    return "sharpen" + (":" + ",".join(options) if options else "")


@st.composite
def _format(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["jpeg", "jpg", "JPG", "png", "webp", "gif"]))
    if name.lower() in ("jpeg", "jpg", "webp") and draw(st.booleans()):
        return f"format:{name},quality={draw(st.integers(1, 100))}"
    return f"format:{name}"


_operation_text = st.one_of(
    _resize(),
    _dimension.map(lambda size: f"thumbnail:{size}"),
    st.tuples(st.integers(0, 16384), st.integers(0, 16384), _dimension, _dimension).map(
        lambda box: "crop:" + ",".join(map(str, box))
    ),
    _any_case("grayscale"),
    _decimal_text(0, 100, above=True).map(lambda radius: f"blur:{radius}"),
    _sharpen(),
    st.tuples(_decimal_text(-36000, 36000), st.none() | _bool).map(
        lambda angle: f"rotate:{angle[0]}" + (f",expand={angle[1]}" if angle[1] else "")
    ),
    st.sampled_from(["flip:h", "flip:v", "flip:H"]),
    _decimal_text(0, 10).map(lambda factor: f"brightness:{factor}"),
    _decimal_text(0, 10).map(lambda factor: f"contrast:{factor}"),
    _format(),
)
_spec_text = st.lists(_operation_text, min_size=1, max_size=6).map("|".join)


@given(_spec_text)
def test_the_canonical_form_parses_back_to_the_same_spec(text: str) -> None:
    spec = parse_spec(text)

    assert parse_spec(spec.canonical) == spec
    assert parse_spec(spec.canonical).canonical == spec.canonical
    assert parse_spec(spec.canonical).digest == spec.digest


@given(_spec_text)
def test_a_spec_survives_a_msgspec_round_trip(text: str) -> None:
    import msgspec

    spec = parse_spec(text)

    assert msgspec.json.decode(msgspec.json.encode(spec), type=Spec) == spec


_bad_operation = st.one_of(
    st.from_regex(r"[a-z]{1,12}", fullmatch=True).filter(lambda name: name not in OPERATION_NAMES),
    st.sampled_from(["resize:abc", "blur:0", "crop:1,2", "flip:x", "format:tiff", "rotate:x"]),
)


@given(st.lists(_operation_text, max_size=3), _bad_operation, st.lists(_operation_text, max_size=3))
def test_the_error_names_the_bad_operation_wherever_it_is(
    before: list[str], bad: str, after: list[str]
) -> None:
    with pytest.raises(InvalidSpec) as raised:
        parse_spec("|".join([*before, bad, *after]))

    assert raised.value.token == bad


@given(st.text(max_size=200))
def test_arbitrary_text_either_parses_or_raises_invalid_spec(text: str) -> None:
    try:
        spec = parse_spec(text)
    except InvalidSpec as error:
        assert isinstance(error.token, str) and error.reason
    else:
        assert parse_spec(spec.canonical) == spec


@given(st.text(alphabet="resizx0123456789:,|=.-abcdefghlmnopqrtuvwy", max_size=60))
def test_text_close_to_the_grammar_either_parses_or_raises_invalid_spec(text: str) -> None:
    try:
        spec = parse_spec(text)
    except InvalidSpec:
        return
    assert parse_spec(spec.canonical) == spec
