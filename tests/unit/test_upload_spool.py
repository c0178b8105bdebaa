"""An upload's spool: in memory up to its budget, past that on disk a block at a time,
and gone once closed."""

from __future__ import annotations

import stat
from pathlib import Path

from api.uploads import Spool

BUDGET = 1024


def files_in(directory: Path) -> list[tuple[str, int]]:
    """Each file's name and permission bits."""
    return [(p.name, stat.S_IMODE(p.stat().st_mode)) for p in directory.iterdir()]


async def write_all(spool: Spool, chunks: list[bytes]) -> list[int]:
    """Write the chunks; how many bytes the spool held in memory after each."""
    held = []
    for chunk in chunks:
        await spool.write(chunk)
        held.append(spool.in_memory)
    return held


async def test_a_file_within_the_budget_stays_in_memory(tmp_path: Path) -> None:
    spool = Spool(BUDGET, tmp_path)

    await write_all(spool, [b"a" * 500, b"b" * 500])
    file = await spool.file()

    assert not spool.on_disk
    assert (spool.size, file.read()) == (1000, b"a" * 500 + b"b" * 500)
    assert files_in(tmp_path) == []
    await spool.close()


async def test_a_larger_file_goes_to_disk_a_block_at_a_time(tmp_path: Path) -> None:
    spool = Spool(BUDGET, tmp_path)
    chunks = [bytes([n]) * 300 for n in range(20)]

    held = await write_all(spool, chunks)
    file = await spool.file()

    assert spool.on_disk
    assert max(held) < BUDGET, "never more than the budget held in memory"
    assert spool.in_memory == 0
    assert (spool.size, file.read()) == (6000, b"".join(chunks))
    [(_name, mode)] = files_in(tmp_path)
    assert mode == 0o600
    await spool.close()
    assert files_in(tmp_path) == [], "closing removes the spooled file"


async def test_without_a_directory_the_file_is_unnamed_in_the_temporary_directory() -> None:
    spool = Spool(BUDGET)

    await write_all(spool, [b"x" * 700] * 3)
    file = await spool.file()

    assert spool.on_disk
    assert not isinstance(file.name, str)
    assert file.read() == b"x" * 2100
    await spool.close()
    assert file.closed


async def test_a_spool_closed_before_its_file_was_asked_for_leaves_nothing(
    tmp_path: Path,
) -> None:
    spool = Spool(BUDGET, tmp_path)
    await write_all(spool, [b"x" * 700] * 3)

    await spool.close()

    assert files_in(tmp_path) == []
