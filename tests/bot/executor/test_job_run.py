"""`JobRun.lost`: a heartbeat that finds the job no longer this executor's stops the engine,
unless it raced the executor's own recording of the outcome (the job just left `running`)."""

from __future__ import annotations

from bot.executor.engine_call import EngineOptions
from bot.executor.job_run import JobRun
from tests.bot.store.helpers import submit


async def _run(store) -> JobRun:
    await submit(store, 1)
    claimed = await store.claim("w1")
    assert claimed is not None
    return JobRun(
        claimed,
        store=store,
        worker_id="w1",
        options=EngineOptions(),
        shutting_down=lambda: False,
        finish_grace_s=1.0,
    )


async def test_a_lost_job_stops_the_engine(store):
    run = await _run(store)
    run.lost()
    assert run.stop() and run.stop.reason == "lost"


async def test_losing_it_while_recording_the_outcome_changes_nothing(store):
    run = await _run(store)
    run.recording = True  # what `_record` sets before its first write
    run.lost()
    assert not run.stop()
