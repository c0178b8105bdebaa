"""How values are written in canonical spec text."""

from __future__ import annotations

from urllib.parse import quote

# Characters that would otherwise be read as grammar inside free text; written as %XX.
TEXT_RESERVED = "%|,="


def number(value: float) -> str:
    """The shortest form: 2 for 2.0, 0.5 for 0.50."""
    return str(int(value)) if value == int(value) else repr(value)


def escape_text(text: str) -> str:
    """Free text as written in a spec: reserved characters, and spaces at either end
    (which the grammar would trim), percent-encoded."""
    chars = [quote(c, safe="") if c in TEXT_RESERVED else c for c in text]
    for end in {0, len(chars) - 1} if chars else ():
        if chars[end].isspace():
            chars[end] = quote(chars[end], safe="")
    return "".join(chars)


def operation_text(name: str, argument: str, **options: tuple[object, object]) -> str:
    """Canonical text of one operation; options equal to their default (or None) are left out."""
    words = [argument] if argument else []
    for key, (value, default) in options.items():
        if value is not None and value != default:
            shown = str(value).lower() if isinstance(value, bool) else value
            words.append(f"{key}={number(shown) if isinstance(shown, float) else shown}")
    return f"{name}:{','.join(words)}" if words else name
