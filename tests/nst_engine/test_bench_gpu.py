"""`python -m nst_engine.bench_gpu`: a clear refusal without CUDA, and a CPU dry run of it all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _bench_gpu(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nst_engine.bench_gpu", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
    )


def test_without_cuda_it_exits_2_with_one_line():
    proc = _bench_gpu(CUDA_VISIBLE_DEVICES="")  # hides any GPU, so this holds on CUDA hosts too
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench-gpu: no CUDA device here")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_cpu_dry_run_prints_every_section(fixture_images: Path, tmp_path: Path):
    out = tmp_path / "bench.md"
    proc = _bench_gpu(
        "--device", "cpu", "--sizes", "48", "--steps", "1", "--wall-size", "48",
        "--preset", "fast", "--warm-runs", "1", "--images", str(fixture_images),
        "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.strip() == proc.stdout.strip()
    assert "- fp32: **" in text and "- bf16: **" in text  # conv throughput per precision
    per_eval = [line for line in text.splitlines() if line.startswith("| 48 (")]
    assert [row.split("|")[2].strip() for row in per_eval] == ["fp32", "bf16"]
    assert all(float(row.split("|")[3]) > 0 for row in per_eval)  # ms/eval measured
    wall = [line for line in text.splitlines() if line.startswith(("| bf16 |", "| fp32 |"))]
    assert wall and wall[-1].startswith("| fp32 |")  # fp32 is always among the preset runs
