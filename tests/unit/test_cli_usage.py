"""Mistakes on the command line or in the settings: one line on stderr, exit status 2,
nothing done. A process that cannot start says why in one line and exits 1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def imgproc(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=cwd,
        env=os.environ | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
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


@pytest.mark.parametrize(
    ("config", "env", "says"),
    [
        (None, {"IMGPROC_LOG_LEVEL": "bogus"}, "'log_level'"),
        (None, {"IMGPROC_PORT": "70000"}, "'port'"),
        ("max_pixels: [1]\n", {}, "'max_pixels'"),
        ("port: {a: 1}\n", {}, "'port'"),
        (": : :\n", {}, "not valid YAML"),
    ],
)
def test_an_unusable_setting_is_one_line_and_exit_2(
    config: str | None, env: dict[str, str], says: str, tmp_path: Path
) -> None:
    args = ["migrate"]
    if config is not None:
        (tmp_path / "settings.yaml").write_text(config)
        args += ["--config", "settings.yaml"]
    before = set(tmp_path.iterdir())

    done = imgproc(*args, cwd=tmp_path, env=env)

    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("imgproc: ") and says in line
    assert set(tmp_path.iterdir()) == before


def test_a_config_path_that_is_a_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = imgproc("migrate", "--config", ".", cwd=tmp_path)

    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line == "imgproc: .: cannot be read: Is a directory"
    assert list(tmp_path.iterdir()) == []


def test_a_data_directory_that_cannot_be_made_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")

    done = imgproc("migrate", cwd=tmp_path, env={"IMGPROC_DATA_DIR": "a-file/data"})

    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("imgproc: ") and "Not a directory" in line
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_a_port_beyond_the_tcp_range_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = imgproc("dev", "--port", "70000", cwd=tmp_path)

    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("imgproc: Invalid value for '--port'")
    assert list(tmp_path.iterdir()) == []


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        done = imgproc("dev", "--port", str(port), cwd=tmp_path)

    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line == f"imgproc: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert list(tmp_path.iterdir()) == []
