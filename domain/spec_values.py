"""The arguments of one operation and the checks on each kind of value in them."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from domain.operations import MAX_DIMENSION
from domain.spec_text import number

MAX_TEXT_LENGTH = 200


class Rejected(Exception):
    """A reason an operation is invalid; parse_spec adds the token."""


class Arguments:
    """The arguments of one operation; each accessor validates and consumes."""

    def __init__(self, positional: list[str], options: dict[str, str]) -> None:
        self.positional = positional
        self.options = options

    @classmethod
    def split(cls, rest: str) -> Arguments:
        """`a,b,key=value` into positional words and options (keys lower-cased)."""
        positional: list[str] = []
        options: dict[str, str] = {}
        if not rest.strip():
            return cls(positional, options)
        for raw in rest.split(","):
            key, equals, value = (part.strip() for part in raw.partition("="))
            if not key or (equals and not value):
                raise Rejected("empty argument")
            if not equals:
                if options:
                    raise Rejected(f"positional argument {key!r} after key=value options")
                positional.append(key)
                continue
            key = key.lower()
            if key in options:
                raise Rejected(f"option {key!r} given twice")
            options[key] = value
        return cls(positional, options)

    def expect(self, count: int, usage: str) -> list[str]:
        if len(self.positional) != count:
            raise Rejected(f"expected {usage}")
        return self.positional

    def option(self, key: str) -> str | None:
        return self.options.pop(key, None)

    def done(self) -> None:
        if self.options:
            raise Rejected(f"unknown option {sorted(self.options)[0]!r}")


def integer(text: str, what: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\+?[0-9]{1,9}", text):
        raise Rejected(f"{what} {text!r} is not a whole number")
    value = int(text)
    if not low <= value <= high:
        raise Rejected(f"{what} {value} is outside {low}..{high}")
    return value


def dimension(text: str, what: str) -> int:
    return integer(text, what, 1, MAX_DIMENSION)


def decimal(text: str, what: str, low: float, high: float, *, exclusive_low: bool = False) -> float:
    if not re.fullmatch(r"[+-]?([0-9]{1,9}(\.[0-9]{0,12})?|\.[0-9]{1,12})", text):
        raise Rejected(f"{what} {text!r} is not a number")
    value = round(float(text), 3) + 0.0  # + 0.0 turns -0.0 into 0.0
    if value < low or value > high or (exclusive_low and value == low):
        bound = f"above {number(low)}" if exclusive_low else f"at least {number(low)}"
        raise Rejected(f"{what} {text} must be {bound} and at most {number(high)}")
    return value


def choice(text: str, what: str, choices: tuple[str, ...]) -> str:
    if text.lower() not in choices:
        raise Rejected(f"{what} {text!r} is not one of {', '.join(choices)}")
    return text.lower()


def boolean(text: str, what: str) -> bool:
    return choice(text, what, ("true", "false")) == "true"


def colour(text: str, what: str) -> str:
    """RGB, RGBA, RRGGBB or RRGGBBAA hex (a leading # allowed), as 6 or 8 lower-case digits;
    8 only when the colour is not opaque."""
    digits = text.removeprefix("#").lower()
    if not re.fullmatch(r"[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8}", digits):
        raise Rejected(f"{what} {text!r} is not a hex colour RRGGBB or RRGGBBAA")
    if len(digits) <= 4:
        digits = "".join(digit * 2 for digit in digits)
    return digits.removesuffix("ff") if len(digits) == 8 else digits


def free_text(text: str, what: str) -> str:
    """Text with %XX escapes decoded; printable, at most MAX_TEXT_LENGTH characters."""
    try:
        decoded = unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise Rejected(f"{what} has a %-escape that is not UTF-8") from None
    if not decoded.strip():
        raise Rejected(f"{what} is empty")
    if len(decoded) > MAX_TEXT_LENGTH:
        raise Rejected(f"{what} is longer than {MAX_TEXT_LENGTH} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in decoded):
        raise Rejected(f"{what} holds a control or unassigned character")
    return decoded
