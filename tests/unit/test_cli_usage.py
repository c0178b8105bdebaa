"""Mistakes on the command line: one line on stderr, exit status 2, nothing done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def imgproc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["events", "list", "--limit", "abc"], "Invalid value for '--limit'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["dev", "--port", "eighty"], "Invalid value for '--port'"),
    ],
)
def test_a_usage_mistake_is_one_line_and_exit_2(args: list[str], says: str, tmp_path: Path) -> None:
    done = imgproc(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("imgproc: ") and says in line
    assert list(tmp_path.iterdir()) == []


def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("max_pixels: lots\n")
    done = imgproc("migrate", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "max_pixels" in line
