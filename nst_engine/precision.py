"""Which precision the VGG passes run in: the one rule shared by `stylize`, the CLI and the bot.

`auto` picks bf16 only where the hardware computes it natively — CUDA devices with bf16
support (compute capability 8.0+), CPUs with AMX-BF16 or AVX512-BF16 — and fp32 elsewhere,
because emulated bf16 (converting around fp32 kernels) is slower than plain fp32. Gram
matrices, losses and the L-BFGS state are fp32 in either case (see `losses.gram`).

Only `resolve` and `native_bf16` need torch; the rest is plain Python.
"""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

AUTO, BF16, FP32 = "auto", "bf16", "fp32"
PRECISIONS = (AUTO, BF16, FP32)
# /proc/cpuinfo flag names (Linux) of native bf16 arithmetic on x86.
CPU_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
_ALIASES = {
    AUTO: AUTO,
    BF16: BF16,
    FP32: FP32,
    "true": BF16,
    "on": BF16,
    "yes": BF16,
    "1": BF16,
    "false": FP32,
    "off": FP32,
    "no": FP32,
    "0": FP32,
}
CPUINFO = Path("/proc/cpuinfo")


def parse(value: str | bool | None) -> str:
    """Normalise a requested precision: auto/None, bf16/true/True, fp32/false/False.

    The `BF16` setting's values (auto, true, false) and the CLI's (auto, bf16, fp32) both map
    here. Raises ValueError naming the accepted values for anything else.
    """
    if value is None:
        return AUTO
    if isinstance(value, bool):
        return BF16 if value else FP32
    key = str(value).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"precision must be auto, bf16 (true) or fp32 (false), got {value!r}")
    return _ALIASES[key]


def cpu_flags_have_bf16(flags: Iterable[str]) -> bool:
    """True when a CPU with these feature flags has native bf16 (AMX-BF16 or AVX512-BF16)."""
    return not CPU_BF16_FLAGS.isdisjoint(flags)


def _cpuinfo_field(name: str, path: Path) -> str | None:
    """The first CPU's `name` field from /proc/cpuinfo, or None where there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == name:
            return value.strip()
    return None


@functools.lru_cache(maxsize=4)  # read once per process: every `stylize` call asks
def read_cpu_flags(path: Path = CPUINFO) -> frozenset[str] | None:
    """The first CPU's feature flags from /proc/cpuinfo, or None where there is no such file."""
    flags = _cpuinfo_field("flags", path)
    return None if flags is None else frozenset(flags.split())


def describe_cpu(path: Path = CPUINFO) -> str:
    """This host's CPU for benchmark headers: model, core count and its native-bf16 flags."""
    model = _cpuinfo_field("model name", path) or platform.processor() or platform.machine()
    flags = read_cpu_flags(path) or frozenset()
    have = ", ".join(f"{f}={'yes' if f in flags else 'no'}" for f in sorted(CPU_BF16_FLAGS))
    return f"{model}; {os.cpu_count()} cores; {have}"


def _torch_cpu_has_bf16() -> bool:
    # Off Linux there is no cpuinfo file: ask torch's own CPU query (private, so guarded).
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    for name in checks:
        check = getattr(torch.cpu, name, None)
        try:
            if check is not None and check():
                return True
        except Exception:  # a failing probe only means "not known to be native"
            continue
    return False


def native_bf16(device: torch.device, cpu_flags: Iterable[str] | None = None) -> bool:
    """Whether `device` computes bf16 natively (so bf16 VGG passes are faster than fp32).

    `cpu_flags` overrides /proc/cpuinfo (for tests); MPS and other devices count as not native.
    """
    import torch

    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        if torch.version.hip:
            return bool(torch.cuda.is_bf16_supported())
        major, _minor = torch.cuda.get_device_capability(device)
        return major >= 8
    if device.type == "cpu":
        flags = read_cpu_flags() if cpu_flags is None else frozenset(cpu_flags)
        return _torch_cpu_has_bf16() if flags is None else cpu_flags_have_bf16(flags)
    return False


def resolve(
    requested: str | bool | None, device: torch.device, cpu_flags: Iterable[str] | None = None
) -> tuple[str, str | None]:
    """The precision to run (`bf16` or `fp32`) for a request on `device`, and a note or None.

    `auto` follows `native_bf16`; a forced `bf16` is honoured on CUDA and CPUs even when only
    emulated (the user asked), and falls back to fp32 with a note where autocast has no bf16.
    """
    want = parse(requested)
    if want == AUTO:
        return (BF16 if native_bf16(device, cpu_flags) else FP32), None
    if want == BF16 and device.type not in ("cuda", "cpu"):
        return FP32, f"bf16 is not supported on {device.type}; used fp32"
    return want, None
