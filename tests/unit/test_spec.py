"""The processing-spec grammar: what parses, what it means, and how errors name the culprit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidSpec
from domain.operations import (
    Blur,
    Crop,
    Flip,
    Format,
    Grayscale,
    Resize,
    Rotate,
    Sharpen,
    Thumbnail,
    Watermark,
)
from domain.spec import Spec, parse_spec
from domain.spec_values import MAX_TEXT_LENGTH
from tests.unit.corpus.specs import OPERATION_NAMES, operation_text, spec_text, watermark_text


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
        ("resize:10x20,mode=fill,gravity=center", "resize:10x20,mode=fill"),
        ("resize:10x20,gravity=SMART,mode=fill", "resize:10x20,mode=fill,gravity=smart"),
        ("rotate:45,background=#FFF", "rotate:45,background=ffffff"),
        ("rotate:45,background=FF0000ff", "rotate:45,background=ff0000"),
        ("rotate:45,background=f008", "rotate:45,background=ff000088"),
        ("watermark:Hello,position=southeast,opacity=0.5", "watermark:Hello"),
        ("watermark:Caf\u00e9 %26 co,OPACITY=.25", "watermark:Caf\u00e9 & co,opacity=0.25"),
        ("watermark:a%2Cb%7Cc%3Dd%25", "watermark:a%2Cb%7Cc%3Dd%25"),
        ("watermark:%20padded%20", "watermark:%20padded%20"),
        ("format:avif,quality=60", "format:avif"),
        ("format:jpeg,progressive=false,strip=true", "format:jpeg"),
        ("format:jpeg,background=FFFFFF", "format:jpeg"),
        ("format:webp,lossless=TRUE", "format:webp,lossless=true"),
        ("format:png,strip=false", "format:png,strip=false"),
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


def test_fill_takes_a_gravity_and_smart_is_one() -> None:
    (resize,) = parse_spec("resize:300x200,mode=fill,gravity=northeast").operations
    (smart,) = parse_spec("resize:300x200,mode=fill,gravity=smart").operations

    assert isinstance(resize, Resize) and resize.gravity == "northeast"
    assert isinstance(smart, Resize) and smart.gravity == "smart"


def test_watermark_text_is_taken_as_written_with_escapes_decoded() -> None:
    (mark,) = parse_spec(
        "watermark:\u00a9 ACME%2C Inc.,position=north,opacity=0.8,size=24"
    ).operations

    assert mark == Watermark("\u00a9 ACME, Inc.", "north", 0.8, 24)


def test_output_options_are_read_per_format() -> None:
    (jpeg,) = parse_spec("format:jpg,quality=70,progressive=true,strip=false").operations
    (webp,) = parse_spec("format:webp,lossless=true").operations
    (avif,) = parse_spec("format:avif").operations

    assert jpeg == Format("jpeg", 70, progressive=True, strip=False)
    assert webp == Format("webp", None, lossless=True)
    assert avif == Format("avif", 60)
    assert parse_spec("format:png").output == Format("png")


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_a_blank_spec_is_rejected(blank: str) -> None:
    with pytest.raises(InvalidSpec, match="empty"):
        parse_spec(blank)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("resize:abc", "not WxH"),
        ("frobnicate", "unknown operation"),
        ("resize:0x10", "outside 1..16384"),
        ("resize:20000", "outside 1..16384"),
        ("resize:10,mode=fill", "needs both"),
        ("resize:10x10,mode=stretch", "fit, fill, force"),
        ("resize:10,upscale=yes", "true, false"),
        ("resize:10,colour=red", "unknown option 'colour'"),
        ("resize:10,mode=fit,mode=fill", "twice"),
        ("resize:10,mode=fit,20", "positional"),
        ("blur:0", "above 0"),
        ("blur:-1", "above 0"),
        ("blur:nan", "not a number"),
        ("resize:\u0661\u0660\u0660", "not WxH"),
        ("blur:1e3", "not a number"),
        ("crop:1,2,3", "X,Y,W,H"),
        ("crop:0,0,0,5", "width"),
        ("grayscale:1", "no arguments"),
        ("flip:d", "h, v"),
        ("format:bmp", "jpeg, png, webp, gif, avif"),
        ("format:png,quality=50", "lossy jpeg, webp and avif"),
        ("format:webp,lossless=true,quality=50", "lossy"),
        ("format:png,progressive=true", "applies to jpeg"),
        ("format:jpeg,lossless=true", "applies to webp"),
        ("format:png,background=000", "applies to jpeg"),
        ("format:png,strip=maybe", "true, false"),
        ("resize:10x10,gravity=north", "mode=fill only"),
        ("resize:10x10,mode=fill,gravity=up", "smart"),
        ("rotate:10,background=red", "hex colour"),
        ("rotate:10,background=12345", "hex colour"),
        ("watermark", "expected the text"),
        ("watermark:%20", "empty"),
        ("watermark:a,b", "expected the text"),
        ("watermark:a%0Ab", "control"),
        ("watermark:%FF", "not UTF-8"),
        ("watermark:a,opacity=0", "above 0"),
        ("watermark:a,position=smart", "northwest"),
        ("watermark:" + "w" * 201, "longer than"),
        ("format:jpeg,quality=0", "1..100"),
        ("format:jpeg,quality=9.5", "whole number"),
        ("brightness:11", "at most 10"),
        ("resize:10,", "empty argument"),
    ],
)
def test_an_invalid_spec_names_the_offending_token_and_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidSpec) as raised:
        parse_spec(text)

    assert raised.value.token == text
    assert reason in raised.value.reason


def test_in_a_pipeline_the_token_named_is_the_operation_that_is_wrong() -> None:
    with pytest.raises(InvalidSpec, match="unknown operation") as unknown:
        parse_spec("grayscale|frobnicate:3")
    with pytest.raises(InvalidSpec, match="empty operation") as empty:
        parse_spec("resize:10|")

    assert (unknown.value.token, empty.value.token) == ("frobnicate", "")


def test_an_overlong_spec_is_rejected() -> None:
    with pytest.raises(InvalidSpec, match="operations"):
        parse_spec("|".join(["grayscale"] * 33))
    with pytest.raises(InvalidSpec, match="longer than"):
        parse_spec("grayscale|" * 200)


# Generated specs: the surface forms a client may write (tests/unit/corpus/specs.py).

_spec_text = spec_text()
_operation_text = operation_text()


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
    st.sampled_from(
        ["resize:abc", "blur:0", "crop:1,2", "flip:x", "format:tiff", "rotate:x", "watermark"]
    ),
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


@given(watermark_text)
def test_any_watermark_text_survives_the_canonical_form(text: str) -> None:
    (mark,) = parse_spec(f"watermark:{text}").operations

    assert isinstance(mark, Watermark) and 0 < len(mark.label) <= MAX_TEXT_LENGTH
    assert parse_spec(mark.text()).operations == (mark,)
