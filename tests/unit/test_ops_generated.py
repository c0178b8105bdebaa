"""Any valid spec runs: generated specs on small images of each kind end in a result or a
ProcessingError that says the request does not fit the image, never anything else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.spec import parse_spec
from tests.unit.corpus import animated, oriented_jpeg
from tests.unit.corpus.specs import spec_text
from tests.unit.images import decoded, encoded
from workers.imaging import ProcessingError, render

SOURCES = {
    "jpeg": oriented_jpeg(6, (25, 17)),  # odd sides: the scaled decode rounds them up
    "png-rgba": encoded("PNG", (24, 16), "RGBA"),
    "png-l": encoded("PNG", (16, 24), "L"),
    "gif-animated": animated("GIF", size=(24, 16)),
}
# What a valid spec may still ask of an image it does not fit.
EXPECTED_REFUSALS = ("outside", "limit", "pixels a side")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SOURCES)), spec_text(largest=48, max_operations=4))
def test_any_valid_spec_runs_on_a_small_image(source: str, text: str) -> None:
    spec = parse_spec(text)

    try:
        result = render(SOURCES[source], spec, max_pixels=200_000, max_dimension=400)
    except ProcessingError as refused:
        assert any(reason in refused.reason for reason in EXPECTED_REFUSALS), refused.reason
        return
    shown = decoded(result.data)
    assert shown.size == (result.picture.width, result.picture.height)
    assert result.format == (
        spec.output_format or {"png-rgba": "png", "png-l": "png"}.get(source, source.split("-")[0])
    )
