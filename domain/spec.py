"""The processing-spec grammar: `op|op|...`, each `name` or `name:arg,arg,key=value`.

    resize:WxH | resize:W | resize:xH    fit inside the box, aspect kept
        mode=fit|fill|force             fill covers the box and crops, force stretches
        upscale=true|false              fit and fill never enlarge unless true
        gravity=center|north|northeast|…|northwest|smart
                                        what fill keeps; smart: the most detailed part
    thumbnail:N                         fit into NxN, never enlarged
    crop:X,Y,W,H                        the region at X,Y of W by H pixels
    rotate:DEG[,expand=B,background=C]  clockwise degrees; expand keeps the corners
    flip:h|v                            mirror left-right or top-bottom
    grayscale
    blur:SIGMA                          Gaussian blur, SIGMA the standard deviation
    sharpen[:amount=P,radius=R,threshold=T]   unsharp mask
    brightness:F | contrast:F           factor, 1 leaves the image as it is
    watermark:TEXT[,position=P,opacity=O,size=N]   text, %2C for a comma
    format:jpeg|png|webp|gif|avif       jpg is jpeg
        quality=1..100                  lossy jpeg, webp and avif
        progressive=true (jpeg)  lossless=true (webp)  background=C (jpeg)
        strip=true|false                false keeps EXIF and the colour profile

Colours C are hex RGB, RRGGBB or RRGGBBAA. Names and words are case-insensitive;
watermark text is taken as written, with %XX escapes for `%`, `|`, `,` and `=`.

Every spec has a canonical text: defaults are dropped, numbers written in their shortest
form, floats rounded to three decimals and angles brought into [0, 360). Two specs with
the same canonical text give the same result.
"""

from __future__ import annotations

import hashlib

import msgspec

from domain.errors import InvalidSpec
from domain.operations import Format, Operation
from domain.spec_parsers import PARSERS
from domain.spec_values import Arguments, Rejected

__all__ = ["MAX_OPERATIONS", "MAX_SPEC_LENGTH", "Spec", "parse_spec"]

MAX_OPERATIONS = 32
MAX_SPEC_LENGTH = 1024


class Spec(msgspec.Struct, frozen=True):
    """A parsed pipeline of one or more operations, applied in order."""

    operations: tuple[Operation, ...]

    @property
    def canonical(self) -> str:
        """The normal form: parse_spec(spec.canonical) == spec, and it names the result."""
        return "|".join(operation.text() for operation in self.operations)

    @property
    def output(self) -> Format | None:
        """The last `format` operation, which decides the encoding; None keeps the input's."""
        formats = [op for op in self.operations if isinstance(op, Format)]
        return formats[-1] if formats else None

    @property
    def output_format(self) -> str | None:
        """The format the last `format` operation asks for; None keeps the input's."""
        output = self.output
        return output.format if output else None

    @property
    def digest(self) -> str:
        """16 hex digits of the canonical form's SHA-256, for keys of results."""
        return hashlib.sha256(self.canonical.encode()).hexdigest()[:16]


def parse_spec(text: str) -> Spec:
    """Parse a processing spec; InvalidSpec names the operation that is wrong and why."""
    if len(text) > MAX_SPEC_LENGTH:
        raise InvalidSpec(text[:40], f"the spec is longer than {MAX_SPEC_LENGTH} characters")
    if not text.strip():
        raise InvalidSpec(text, "the spec is empty")
    tokens = [token.strip() for token in text.split("|")]
    if len(tokens) > MAX_OPERATIONS:
        raise InvalidSpec(tokens[MAX_OPERATIONS], f"more than {MAX_OPERATIONS} operations")
    return Spec(tuple(_parse_operation(token) for token in tokens))


def _parse_operation(token: str) -> Operation:
    if not token:
        raise InvalidSpec(token, "empty operation (two '|' in a row, or one at an end)")
    written_name, _, rest = token.partition(":")
    parser = PARSERS.get(written_name.strip().lower())
    if parser is None:
        known = ", ".join(sorted(PARSERS))
        raise InvalidSpec(
            written_name.strip() or token, f"unknown operation, expected one of {known}"
        )
    try:
        return parser(Arguments.split(rest))
    except Rejected as rejected:
        raise InvalidSpec(token, str(rejected)) from None
