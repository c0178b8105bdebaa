"""Imaging: our pipeline against the bare Pillow-SIMD calls it makes, measured in one run.

Inputs are made in code: photo-like pictures (gradients, shapes, grain) saved as JPEG q90.

    a  12 MP JPEG -> thumbnail:256 (fits 256x256), JPEG q80
    b  12 MP JPEG -> resize:1024 (1024 wide), JPEG q85
    c  12 MP JPEG -> resize:1024, WebP q80
    d  1920x1080 JPEG -> grayscale|blur:2, JPEG q85

Implementations:
    ours    workers.imaging.render with the spec above
    bare    the same Pillow calls with the same parameters (scaled JPEG decode, LANCZOS
            with reducing_gap, same encoder options), without our planning, limits and
            metadata handling: what the pipeline adds is ours/bare - 1
    naive   full-size decode, then resize or convert (no shrink-on-load): the plain script
    pyvips  thumbnail_buffer / colourspace+gaussblur, one libvips thread, where installed

The header says which SIMD level the installed Pillow-SIMD was compiled for (SSE4, or
AVX2 when built with CC="cc -mavx2", as scripts/bootstrap does where the CPU has it).

Timing: per case, each implementation runs against bare in a fresh process, the two
alternating (A-B, then B-A) after one warm-up each; ms/image is the median. "vs bare"
is the median of the per-round ratios, so a busy machine or a changing clock weighs
on both sides alike; "best/best" compares the fastest runs, those nothing disturbed.
"bare ms" is bare's median in that same process.
pyvips runs with VIPS_CONCURRENCY=1: the comparison is per core.

Memory: per case and implementation, a fresh process runs the job twice; peak RSS is
its high-water mark (VmHWM from /proc) afterwards minus before: what one job needs on
top of the interpreter and the input bytes. For ours, the pipeline's own account of the
pixel buffers it held at once (Rendered.peak_bytes) is shown beside it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._imaging_jobs import CASES, IMPLEMENTATIONS, INPUTS, implementation, photo, simd_build

RUNS = {"photo12mp.jpg": 30, "photo1080p.jpg": 40}


def _high_water_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _available(names: tuple[str, ...]) -> list[str]:
    try:
        import pyvips  # noqa: F401
    except (ImportError, OSError):
        return [name for name in names if name != "pyvips"]
    return list(names)


def _time(case: str, path: str, runs: int, name: str) -> None:
    """`name` against bare, alternating A-B then B-A, in one process: neighbouring runs
    share the machine's state, and neither always follows the other."""
    data = Path(path).read_bytes()
    jobs = {name: implementation(name, case), "bare": implementation("bare", case)}
    times: dict[str, list[float]] = {name: [], "bare": []}
    for job in jobs.values():
        job(data)  # warm-up
    for round_ in range(runs):
        for which in (name, "bare") if round_ % 2 == 0 else ("bare", name):
            started = time.perf_counter()
            jobs[which](data)
            times[which].append(time.perf_counter() - started)
    print(json.dumps(times))


def _memory(case: str, name: str, path: str) -> None:
    """The high-water mark one job adds, in a process that has run nothing else."""
    data = Path(path).read_bytes()
    job = implementation(name, case)
    before = _high_water_kib()
    result = job(data)
    job(data)
    peak = (_high_water_kib() - before) / 1024
    print(json.dumps({"peak_mib": peak, "accounted_mib": getattr(result, "peak_bytes", 0) / 2**20}))


def _child(*arguments: str) -> object:
    environment = os.environ | {"VIPS_CONCURRENCY": "1"}
    command = [sys.executable, "-m", "bench.imaging", *arguments]
    root = Path(__file__).resolve().parents[1]  # where `bench` is importable from
    done = subprocess.run(
        command, capture_output=True, text=True, env=environment, cwd=root, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    print(simd_build())
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for file, size in INPUTS.items():
            paths[file] = Path(folder) / file
            photo(size).save(paths[file], "JPEG", quality=90)
        print(
            f"{'case':4} {'impl':7} {'ms/image':>9} {'MP/s':>7} {'peak RSS':>11} "
            f"{'vs bare':>8} {'best/best':>9} {'bare ms':>8}"
        )
        worst = [0.0, 0.0]  # the largest ratios of ours to bare: paired medians, best runs
        for case, (file, spec) in CASES.items():
            path = paths[file]
            print(f"-- {case}: {spec} on {file} ({path.stat().st_size // 1024} KiB)")
            megapixels = INPUTS[file][0] * INPUTS[file][1] / 1e6
            for name in _available(IMPLEMENTATIONS):
                if name == "bare":
                    continue
                times = _child("time", case, str(path), str(RUNS[file]), name)
                assert isinstance(times, dict)
                if name == "ours":
                    _report(case, "bare", times["bare"], times["bare"], megapixels, path)
                ratios = _report(case, name, times[name], times["bare"], megapixels, path)
                worst = [max(pair) for pair in zip(worst, ratios, strict=True)]
        print(
            f"pipeline over the bare Pillow calls, worst case: {100 * (worst[0] - 1):+.1f}% "
            f"(paired medians), {100 * (worst[1] - 1):+.1f}% (best runs)"
        )
    return 0


def _report(
    case: str, name: str, samples: list[float], bare: list[float], megapixels: float, path: Path
) -> tuple[float, float]:
    """Print one row; returns ours' two ratios to bare (zeros for the others)."""
    median = statistics.median(samples)
    # Runs of one round are neighbours in time: their ratio cancels drift.
    ratio = statistics.median(run / base for run, base in zip(samples, bare, strict=True))
    # The fastest runs are those nothing else disturbed: on a shared machine, the fairest.
    best = min(samples) / min(bare)
    memory = _child("memory", case, name, str(path))
    assert isinstance(memory, dict)
    accounted = memory["accounted_mib"]
    note = f"  pipeline accounts {accounted:.1f} MiB" if name == "ours" else ""
    print(
        f"{case:4} {name:7} {median * 1000:9.1f} {megapixels / median:7.1f} "
        f"{memory['peak_mib']:7.1f} MiB {ratio:7.2f}x {best:8.2f}x "
        f"{statistics.median(bare) * 1000:8.1f}{note}",
        flush=True,
    )
    return (ratio, best) if name == "ours" else (0.0, 0.0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["time"]:
        _time(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1:2] == ["memory"]:
        _memory(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(main())
