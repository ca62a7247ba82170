"""Device selection (CUDA > MPS > CPU) and per-device backend settings."""

from __future__ import annotations

import os

import torch


def select_device(device: str | torch.device | None = None) -> torch.device:
    """Resolve `device` ("auto"/None picks CUDA, then MPS, then CPU) to a torch.device."""
    if isinstance(device, torch.device):
        return device
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def configure(device: torch.device) -> None:
    """Apply the backend settings that make VGG passes fast on `device`."""
    if device.type == "cuda":
        # Input sizes repeat for hundreds of evaluations per scale, so autotuning pays off.
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False  # Gram matrices stay full fp32
        torch.backends.cudnn.allow_tf32 = True


def prefers_channels_last(device: torch.device) -> bool:
    """Whether VGG passes run faster with NHWC maps on `device`.

    cuDNN and oneDNN (CPU) both convolve NHWC without re-layout; measured on an AVX-512 CPU:
    6–11 % less time per evaluation, and max-pooling 10× faster.
    """
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available())  # type: ignore[no-untyped-call]  # the slow fallback convs prefer NCHW
    return device.type == "cuda"


def available_memory_bytes(device: torch.device) -> int | None:
    """Free memory usable for activations on `device`, or None when unknown."""
    try:
        if device.type == "cuda":
            free, _total = torch.cuda.mem_get_info(device)
            return int(free)
        if device.type == "cpu":
            return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, RuntimeError):
        return None
    return None


def is_oom(exc: BaseException) -> bool:
    """True when `exc` is an allocation failure on any backend."""
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "failed to allocate" in text
    )
