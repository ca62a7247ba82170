"""`EXECUTORS=auto` / `ENGINE_THREADS=0`: the executors and threads `nst-bot run` picks."""

from __future__ import annotations

import pytest

from bot.executor.host import CPU_EXECUTORS_MAX, host_plan, nvidia_gpu_present, plan
from bot.settings import Settings


@pytest.mark.parametrize("cores", [1, 2, 3, 16])
def test_auto_on_a_cpu_host_runs_one_single_threaded_executor_per_core(cores):
    p = plan("auto", 0, "auto", cores=cores, gpu=False)
    assert p.executors == min(cores, CPU_EXECUTORS_MAX)
    assert p.engine_threads == cores // p.executors  # every core used, none shared
    assert p.executors * p.engine_threads <= cores


def test_auto_on_a_gpu_host_runs_one_executor_with_torchs_threads():
    assert plan("auto", 0, "auto", cores=16, gpu=True) == plan("auto", 0, "cuda", cores=16)
    p = plan("auto", 0, "cuda", cores=16)
    assert (p.executors, p.engine_threads) == (1, 0)
    # DEVICE=cpu on a host with a GPU is a CPU host.
    assert plan("auto", 0, "cpu", cores=4, gpu=True).executors == 4


def test_explicit_settings_win():
    assert plan(1, 0, "cpu", cores=8, gpu=False).engine_threads == 8  # the old default
    explicit = plan(3, 2, "cpu", cores=8, gpu=False)
    assert (explicit.executors, explicit.engine_threads) == (3, 2)
    assert plan(0, 0, "auto", cores=8, gpu=False).executors == 0


def test_settings_default_to_auto_and_run_overrides(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EXECUTORS", raising=False)
    s = Settings(_env_file=None, device="cpu")  # type: ignore[call-arg]
    assert s.executors == "auto"
    assert host_plan(s).executors >= 1
    assert host_plan(s, executors=0).executors == 0
    monkeypatch.setenv("EXECUTORS", "auto")
    assert Settings(_env_file=None).executors == "auto"  # type: ignore[call-arg]


def test_a_gpu_is_recognised_by_its_driver_listing(tmp_path):
    gpus = tmp_path / "gpus"
    assert not nvidia_gpu_present(gpus)
    gpus.mkdir()
    assert not nvidia_gpu_present(gpus)
    (gpus / "0000:01:00.0").mkdir()
    assert nvidia_gpu_present(gpus)
