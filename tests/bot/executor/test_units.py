"""In-process pieces of the executor: progress throttling, stop reasons, outcome mapping, env."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from bot.executor.jobrun import (
    INTERNAL_MESSAGE,
    EngineOptions,
    JobInput,
    StopFlag,
    run_job,
)
from bot.executor.progress import ProgressRelay
from bot.executor.supervisor import PARENT_PID_ENV, backoff_delay, child_env
from bot.settings import Settings
from bot.store import JobParams
from nst_engine.errors import Cancelled, OutOfMemoryError
from nst_engine.results import StylizeResult


@dataclass
class FakeProgress:
    step: int
    scale: int = 1
    scales: int = 2
    total_steps: int = 100
    loss: float = 1.0
    content_loss: float = 0.5
    style_loss: float = 0.5
    tv_loss: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = 9.0
    preview: Image.Image | None = None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_relay_keeps_only_the_newest_snapshot_and_throttles_previews():
    clock = Clock()
    relay = ProgressRelay(preview_interval_s=3.0, clock=clock)
    assert relay.take() == (None, None)
    img = Image.new("RGB", (500, 250), (200, 10, 10))
    for step in range(1, 6):
        clock.now += 0.5
        relay(FakeProgress(step=step, preview=img))
    snap, preview = relay.take()
    assert snap is not None and snap.step == 5 and snap.total_steps == 100
    assert preview is None  # only 2.5 s since start: no preview yet
    assert relay.take() == (None, None)  # nothing new since

    clock.now += 1.0
    relay(FakeProgress(step=6, preview=img))
    snap, preview = relay.take()
    assert snap is not None and snap.step == 6
    assert preview is not None and preview.jpeg[:3] == b"\xff\xd8\xff"  # a JPEG
    decoded = Image.open(io.BytesIO(preview.jpeg))
    assert decoded.size == (preview.width, preview.height) == (320, 160)

    clock.now += 1.0  # too soon for another preview
    relay(FakeProgress(step=7, preview=img))
    assert relay.take()[1] is None


def test_stop_flag_reason_precedence():
    flag = StopFlag()
    assert not flag()
    flag.set("shutdown")
    assert flag() and flag.reason == "shutdown"
    flag.set("cancel")
    assert flag.reason == "cancel"
    flag.set("shutdown")  # a later shutdown must not turn a cancel into a requeue
    assert flag.reason == "cancel"
    flag.set("lost")
    assert flag.reason == "lost"


def _png(path: Path) -> bytes:
    return path.read_bytes()


def test_bad_input_fails_with_the_decoders_reason(fixture_images):
    style = _png(fixture_images / "starry_night.jpg")
    cut = style[: len(style) // 2]  # an upload cut off halfway
    out = run_job(JobInput(1, cut, [(style, 1.0)], JobParams(size=64)), EngineOptions())
    assert out.kind == "failed"
    assert out.error_code == "truncated"
    assert "incomplete or corrupt" in (out.error_message or "")

    out = run_job(JobInput(2, b"", [(style, 1.0)], JobParams(size=64)), EngineOptions())
    assert (out.kind, out.error_code) == ("failed", "empty")

    out = run_job(
        JobInput(3, style, [(b"hello, I am text", 1.0)], JobParams(size=64)), EngineOptions()
    )
    assert (out.kind, out.error_code) == ("failed", "not_an_image")


def _raiser(exc: BaseException):
    def stylize(*args, **kwargs):
        raise exc

    return stylize


def test_engine_exceptions_map_to_outcomes(fixture_images, caplog):
    data = _png(fixture_images / "tubingen.jpg")
    job = JobInput(42, data, [(data, 1.0)], JobParams(size=64))
    out = run_job(job, EngineOptions(), stylize=_raiser(Cancelled()))
    assert out.kind == "cancelled"

    out = run_job(job, EngineOptions(), stylize=_raiser(OutOfMemoryError("no fit at 64 px")))
    assert (out.kind, out.error_code) == ("failed", "out_of_memory")
    assert "smaller size" in (out.error_message or "")

    with caplog.at_level(logging.ERROR, logger="bot.executor.jobrun"):
        out = run_job(job, EngineOptions(), stylize=_raiser(ZeroDivisionError("boom")))
    assert (out.kind, out.error_code, out.error_message) == (
        "failed",
        "internal_error",
        INTERNAL_MESSAGE,
    )
    assert "boom" not in (out.error_message or "")
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert "job 42" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


def test_size_is_capped_by_the_executors_max_size(fixture_images):
    seen: dict = {}

    def stylize(content, styles, **kwargs):
        seen.update(kwargs)
        raise Cancelled()

    data = _png(fixture_images / "tubingen.jpg")
    run_job(
        JobInput(1, data, [(data, 0.5)], JobParams(size=4096)),
        EngineOptions(max_size=256),
        stylize=stylize,
    )
    assert seen["size"] == 256


def test_the_bf16_setting_reaches_the_engine_and_the_ran_precision_the_outcome(fixture_images):
    seen: dict = {}

    def stylize(content, styles, **kwargs):
        seen.update(kwargs)
        return StylizeResult(image=content, steps=1, elapsed_s=0.1, device="cpu", precision="bf16")

    data = _png(fixture_images / "tubingen.jpg")
    job = JobInput(1, data, [(data, 1.0)], JobParams(size=64))
    assert EngineOptions().bf16 == Settings(_env_file=None).bf16 == "auto"
    outcome = run_job(job, EngineOptions(bf16="true"), stylize=stylize)
    assert seen["precision"] == "true" and "bf16" not in seen
    assert outcome.kind == "succeeded" and outcome.precision == "bf16"


def test_bf16_setting_accepts_auto_true_false_only():
    assert Settings(_env_file=None, bf16="false").bf16 == "false"
    with pytest.raises(ValueError, match="bf16"):
        Settings(_env_file=None, bf16="fp16")
    env = child_env(Settings(_env_file=None, bf16="true"), {})
    assert env["BF16"] == "true"


def test_child_env_drops_the_token_and_passes_settings():
    settings = Settings(
        _env_file=None,
        discord_token="secret-token-value",
        database_url="sqlite+aiosqlite:////tmp/x.db",
        heartbeat_interval_s=0.5,
    )
    env = child_env(settings, {"DISCORD_TOKEN": "secret-token-value", "PATH": "/bin"})
    assert "DISCORD_TOKEN" not in env
    assert "secret-token-value" not in " ".join(env.values())
    assert env["DATABASE_URL"] == "sqlite+aiosqlite:////tmp/x.db"
    assert env["HEARTBEAT_INTERVAL_S"] == "0.5"
    assert env["PATH"] == "/bin"
    assert env[PARENT_PID_ENV].isdigit()
    # the child parses what the parent wrote back into the same settings
    child = Settings(_env_file=None, **{k.lower(): v for k, v in env.items() if k != "PATH"})
    assert child.heartbeat_interval_s == 0.5 and child.token is None


def test_backoff_doubles_and_caps():
    assert [backoff_delay(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_supervisor_never_imports_torch():
    code = (
        "import sys, bot.executor.supervisor, bot.executor.testhooks\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("seed", [None, 7])
def test_crash_hook_is_inert_without_its_env(monkeypatch, seed):
    from bot.executor import testhooks

    monkeypatch.delenv(testhooks.CRASH_SEED_ENV, raising=False)
    testhooks.maybe_crash(seed, 5)  # would os._exit if it were active
    monkeypatch.setenv(testhooks.CRASH_SEED_ENV, "8")
    testhooks.maybe_crash(seed, 5)  # active, but a different seed
