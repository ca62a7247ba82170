"""How many executors `nst-bot run` starts on this host, and how many engine threads each one
gets, when the operator leaves it to the bot (`EXECUTORS=auto`, `ENGINE_THREADS=0`).

Measured by `python -m bot.executor.bench --section hosts`: on a CPU, one single-threaded
executor per core served a queue sooner than one executor using every core (eight 512 px
`standard` jobs on 2 cores: 327 s against 380 s, 1.16× the jobs per hour), since a lone
L-BFGS run scales poorly across threads. A GPU host runs one executor: it keeps the device
busy alone. Torch-free: the bot process decides before any executor starts, so a GPU is
recognised by its driver, not by CUDA.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.settings import Settings

AUTO = "auto"
# More single-threaded executors than this each hold a VGG19 (~1 GB at 512 px) for a share of
# the speed-up nobody measured; past it the cores are split between them as threads.
CPU_EXECUTORS_MAX = 4
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


@dataclass(frozen=True)
class HostPlan:
    """Executors to start and torch threads per executor (0: torch's default)."""

    executors: int
    engine_threads: int
    why: str


def cpu_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container limits it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def nvidia_gpu_present(gpus: Path = NVIDIA_GPUS) -> bool:
    """Whether the NVIDIA driver lists a GPU on this host."""
    return gpus.is_dir() and any(gpus.iterdir())


def plan(
    executors: int | Literal["auto"],
    engine_threads: int,
    device: str,
    *,
    cores: int | None = None,
    gpu: bool | None = None,
) -> HostPlan:
    """The executors and threads for this host: explicit settings win; `auto` picks one
    single-threaded executor per core (at most CPU_EXECUTORS_MAX) on a CPU host and one
    executor on a GPU host; ENGINE_THREADS=0 splits the cores between the executors."""
    cores = cpu_cores() if cores is None else cores
    if gpu is None:
        gpu = device.startswith("cuda") or (device == AUTO and nvidia_gpu_present())
    gpu = gpu and device != "cpu"
    if executors == AUTO:
        count = 1 if gpu else max(1, min(cores, CPU_EXECUTORS_MAX))
        why = "GPU host: one executor" if gpu else f"CPU host, {cores} cores: one per core"
    else:
        count, why = int(executors), "EXECUTORS"
    threads = engine_threads
    if threads == 0 and count > 0 and not gpu:
        threads = max(1, cores // count)
    return HostPlan(count, threads, why)


def host_plan(settings: Settings, executors: int | None = None) -> HostPlan:
    """`plan` for these settings; `executors` (from `nst-bot run --executors`) overrides."""
    count = settings.executors if executors is None else executors
    return plan(count, settings.engine_threads, settings.device)
