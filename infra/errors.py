"""Errors the adapters raise, wrapping their drivers' own.

InfrastructureError
├── DependencyUnavailable   a server we need is down or refuses us (HTTP 503)
└── BlobNotFound            no object under that key
"""

from __future__ import annotations


class InfrastructureError(Exception):
    """Base of every error an adapter raises on purpose."""


class DependencyUnavailable(InfrastructureError):
    def __init__(self, dependency: str, detail: str = "") -> None:
        self.dependency = dependency
        super().__init__(f"{dependency} is unavailable" + (f": {detail}" if detail else ""))


class BlobNotFound(InfrastructureError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no blob under {key!r}")
