"""The shape of the code: imports point inward, the domain stays pure, and
Pillow is Pillow-SIMD."""

from __future__ import annotations

import ast
import graphlib
import importlib.metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"domain", "commands", "projections", "api", "workers", "infra", "cli", "migrations"}

# What each package may import from the project (besides itself).
ALLOWED = {
    "domain": set(),
    "commands": {"domain"},
    "projections": {"domain"},
    "api": {"domain", "commands", "projections", "infra"},
    "workers": {"domain", "commands", "projections", "infra"},
    "infra": {"domain", "commands", "projections", "migrations"},
    "cli": PROJECT,
}
DOMAIN_THIRD_PARTY = {"eventsourcing", "msgspec"}
DRIVERS = {"aioboto3", "aiobotocore", "botocore", "aiokafka", "psycopg", "psycopg_pool"}


def imports(package: str) -> set[tuple[Path, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {(path, alias.name.split(".")[0]) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((path, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_inward(package: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path, name in imports(package)
        if name in PROJECT and name != package and name not in ALLOWED[package]
    }
    assert not wrong


def test_the_domain_imports_only_the_standard_library_eventsourcing_and_msgspec() -> None:
    import sys

    stdlib = sys.stdlib_module_names
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path, name in imports("domain")
        if name not in stdlib and name not in DOMAIN_THIRD_PARTY and name != "domain"
    }
    assert not wrong


@pytest.mark.parametrize("package", sorted(PROJECT - {"infra", "migrations"}))
def test_only_infra_talks_to_drivers(package: str) -> None:
    wrong = {f"{p.relative_to(ROOT)} imports {n}" for p, n in imports(package) if n in DRIVERS}
    assert not wrong


def test_pillow_is_pillow_simd() -> None:
    import PIL

    assert importlib.metadata.version("pillow-simd") == PIL.__version__
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("pillow")


def module_imports() -> dict[str, set[str]]:
    """Each of the project's modules → the project's modules it imports, late imports too."""
    modules = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in PROJECT - {"migrations"}
        for path in (ROOT / package).rglob("*.py")
    }

    def resolved(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module in modules:
        path = ROOT.joinpath(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        found = {resolved(target) for target in targets}
        # A module importing its own package (`from api import reads`) is no cycle.
        graph[module] = {
            t for t in found if t is not None and t != module and not module.startswith(t + ".")
        }
    return graph


def test_no_module_imports_itself_through_others() -> None:
    graphlib.TopologicalSorter(module_imports()).prepare()  # raises CycleError on a cycle


# The adapters: only the composition root builds them (tests aside).
ADAPTERS = {
    "open_database",
    "open_image_commands",
    "SqliteDatabase",
    "PostgresDatabase",
    "PostgresSession",
    "FilesystemBlobStore",
    "S3BlobStore",
    "EventPublisher",
    "EventConsumer",
    "SqlReadModel",
    "SqlTracking",
}


def test_only_the_composition_root_builds_adapters() -> None:
    wrong = {
        f"{path.relative_to(ROOT)} calls {name}"
        for package in ("api", "workers", "cli", "commands", "projections")
        for path in (ROOT / package).rglob("*.py")
        if path != ROOT / "cli" / "bootstrap.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and (name := getattr(node.func, "id", getattr(node.func, "attr", None))) in ADAPTERS
    }
    assert not wrong
