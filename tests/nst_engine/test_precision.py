"""The precision rule: parsing, native-bf16 detection on fake CPU flags, bf16 vs fp32 quality."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from nst_engine import precision, stylize
from nst_engine.metrics import score
from nst_engine.precision import (
    cpu_flags_have_bf16,
    describe_cpu,
    native_bf16,
    parse,
    read_cpu_flags,
    resolve,
)

CPU = torch.device("cpu")
# Flag sets as /proc/cpuinfo prints them (abridged) on real machines.
SAPPHIRE_RAPIDS = {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8"}
COOPER_LAKE = {"avx512f", "avx512bw", "avx512_bf16", "avx512_vnni"}
AMX_ONLY = {"avx512f", "amx_tile", "amx_bf16"}
SKYLAKE_X = {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni"}
ZEN2 = {"avx2", "fma", "sha_ni"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("auto", "auto"),
        (None, "auto"),
        ("bf16", "bf16"),
        ("true", "bf16"),
        ("TRUE", "bf16"),
        (True, "bf16"),
        ("fp32", "fp32"),
        ("false", "fp32"),
        (False, "fp32"),
    ],
)
def test_parse_accepts_the_setting_and_cli_spellings(value, expected):
    assert parse(value) == expected


def test_parse_rejects_anything_else_naming_the_choices():
    with pytest.raises(ValueError, match=r"auto, bf16 \(true\) or fp32 \(false\)"):
        parse("fp16")


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        (SAPPHIRE_RAPIDS, True),
        (COOPER_LAKE, True),
        (AMX_ONLY, True),
        (SKYLAKE_X, False),  # AVX-512 without BF16: bf16 would only be emulated
        (ZEN2, False),
        (set(), False),
    ],
)
def test_cpu_native_bf16_needs_amx_bf16_or_avx512_bf16(flags, native):
    assert cpu_flags_have_bf16(flags) is native
    assert native_bf16(CPU, cpu_flags=flags) is native
    ran, note = resolve("auto", CPU, cpu_flags=flags)
    assert (ran, note) == ("bf16" if native else "fp32", None)


def test_forced_precisions_ignore_the_hardware():
    assert resolve("true", CPU, cpu_flags=ZEN2) == ("bf16", None)
    assert resolve("false", CPU, cpu_flags=SAPPHIRE_RAPIDS) == ("fp32", None)


def test_devices_without_bf16_autocast_fall_back_with_a_note():
    mps = torch.device("mps")
    assert native_bf16(mps) is False
    assert resolve("auto", mps) == ("fp32", None)
    assert resolve("bf16", mps) == ("fp32", "bf16 is not supported on mps; used fp32")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CUDA-less answer")
def test_cuda_without_a_device_is_not_native():
    assert native_bf16(torch.device("cuda")) is False


def test_cpu_flags_come_from_cpuinfo_and_are_none_without_it(tmp_path: Path):
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx512f avx512_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu\n"
    )
    assert read_cpu_flags(info) == {"fpu", "sse2", "avx512f", "avx512_bf16"}
    assert read_cpu_flags(tmp_path / "missing") is None
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert read_cpu_flags(arm) is None


def test_benchmarks_name_the_cpu_and_its_bf16_flags(tmp_path: Path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu avx512_bf16\n")
    line = describe_cpu(info)
    assert line.startswith("Test CPU 9000; ")
    assert "amx_bf16=no, avx512_bf16=yes" in line


def test_without_cpuinfo_torch_is_asked(monkeypatch):
    # Other OSes: no /proc/cpuinfo, so torch's own CPU query decides (either answer is a bool).
    monkeypatch.setattr(precision, "read_cpu_flags", lambda *a: None)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert native_bf16(CPU) is True
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert native_bf16(CPU) is False


def test_stylize_records_the_precision_auto_picked(content_img, style_img):
    result = stylize(content_img, [style_img], size=32, preset="fast", seed=0)
    assert result.precision == resolve("auto", CPU)[0]
    with pytest.raises(ValueError, match="precision must be"):
        stylize(content_img, [style_img], size=32, precision="half")


# Relative tolerance on the quality scores between precisions. bf16 keeps 8 mantissa bits in
# the VGG activations, but the Gram matrices, losses and L-BFGS run in fp32; measured on
# tubingen × starry_night at 96 px: 0.2 % apart in content, 0.02 % in style.
SCORE_RTOL = 0.02


def test_bf16_and_fp32_reach_the_same_scores(content_img, style_img):
    kw = dict(size=96, preset="fast", seed=0)
    fp32 = stylize(content_img, [style_img], precision="fp32", **kw)
    bf16 = stylize(content_img, [style_img], precision="bf16", **kw)
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    # bf16 really ran: the pixels differ...
    assert not np.array_equal(np.asarray(fp32.image), np.asarray(bf16.image))
    s32, s16 = score(fp32.image, content_img, style_img), score(bf16.image, content_img, style_img)
    plain = score(content_img, content_img, style_img)
    assert s32.style < plain.style and s16.style < plain.style  # both are stylised
    # ...but the quality scores agree.
    assert s16.content == pytest.approx(s32.content, rel=SCORE_RTOL)
    assert s16.style == pytest.approx(s32.style, rel=SCORE_RTOL)


def test_non_finite_bf16_falls_back_to_fp32_and_says_so(content_img, style_img, monkeypatch):
    # Make every bf16 pass of the objective overflow (the style targets, computed without
    # gradients, stay finite), as a badly scaled input could on real hardware.
    from nst_engine.encoder_cache import EncoderCache
    from nst_engine.vgg import load_encoder

    encoders = EncoderCache()  # stylize must use the very encoder the hook is on
    encoder = load_encoder("caffe", CPU, cache=encoders)
    real_autocast = torch.autocast

    @contextlib.contextmanager
    def overflowing_autocast(*args, **kwargs):
        def poison(_module, _inputs, feats):
            if torch.is_grad_enabled():
                return {k: v * math.inf for k, v in feats.items()}
            return None

        handle = encoder.register_forward_hook(poison)
        try:
            with real_autocast(*args, **kwargs):
                yield
        finally:
            handle.remove()

    monkeypatch.setattr(torch, "autocast", overflowing_autocast)
    reports = []
    result = stylize(
        content_img,
        [style_img],
        size=64,
        preset="fast",
        precision="bf16",
        callback=reports.append,
        encoders=encoders,
    )
    assert result.precision == "fp32"
    assert "bf16 gave non-finite values; finished in fp32" in result.notes
    assert all(math.isfinite(p.loss) for p in reports)
    assert reports[-1].loss < 0.5 * reports[0].loss
