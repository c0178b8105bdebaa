"""`python -m bench [NAME...]`: run every benchmark module with a `main()`, or the named ones."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from collections.abc import Callable
from typing import cast

import bench


def discover() -> list[str]:
    """Modules of this package that are benchmarks (public, with a main)."""
    found = []
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name.startswith("_"):
            continue
        if callable(getattr(importlib.import_module(f"bench.{module.name}"), "main", None)):
            found.append(module.name)
    return sorted(found)


def run(names: list[str]) -> int:
    available = discover()
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; available: {', '.join(available)}")
        return 2
    failures = 0
    for name in names or available:
        print(f"== bench {name} ==", flush=True)
        entry = cast(Callable[[], object], importlib.import_module(f"bench.{name}").main)
        try:
            result = entry()
        except Exception:  # one broken part must not hide the figures of the others
            traceback.print_exc()
            result = 1
        failures += 1 if isinstance(result, int) and result != 0 else 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
