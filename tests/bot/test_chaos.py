"""Exactly-once delivery under chaos (issue 13): the real `nst-bot run` with two executors, 30
jobs at 64 px from three users, the fake Discord answering a share of delivery requests with
429, 500 and connection resets (before and, later, after the request took effect), the bot
SIGKILLed four times (twice inside the fake's handler of a result post that took effect, before
the bot could record it) and executors four times. Every job must end delivered exactly once."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.bot.chaos import (
    CHANNEL_ROUTE,
    DELIVERY_PATHS,
    FAULT_KINDS,
    ORIGINAL_ROUTE,
    ChaosRun,
    chaos_env,
    fault_counts,
    nonce_replays,
    submit_jobs,
    three_users,
)
from tests.fakediscord import FakeDiscord

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SEED = 1313
WAVE = 10  # jobs per wave; three waves
FAULT_RATE = 0.15


async def test_every_job_is_delivered_exactly_once_through_crashes_and_faults(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    async with FakeDiscord() as fake:
        places = three_users(fake)
        run = ChaosRun(fake, tmp_path, chaos_env(executors=2), rng)
        faults = []
        try:
            await run.start()
            faults.append(fake.chaos(FAULT_RATE, FAULT_KINDS, seed=SEED, paths=DELIVERY_PATHS))
            await submit_jobs(run, places, 0, WAVE)
            await run.pause(1, 3)
            await run.kill_executor()
            await run.pause(0, 4)
            await run.kill_bot("at a random moment (1)")

            # Armed as soon as a wave is in: its results are all still to come.
            await submit_jobs(run, places, WAVE, WAVE)
            await run.kill_armed(ORIGINAL_ROUTE)
            await run.kill_executor()

            # From here 5xx and resets strike after the post or edit took effect.
            faults.append(
                fake.chaos(FAULT_RATE, FAULT_KINDS, seed=SEED + 1, paths=DELIVERY_PATHS, after=True)
            )
            await submit_jobs(run, places, 2 * WAVE, WAVE)
            await run.kill_armed(CHANNEL_ROUTE)
            await run.kill_executor()
            await run.pause(0.5, 2)
            await run.kill_executor()
            await run.pause(0, 3)
            await run.kill_bot("at a random moment (2)")

            await run.wait_all_delivered(timeout=420)
            fake.chaos(None)
            health = await fake.wait_until(_healthy(run), timeout=60, poll_s=0.5)
            tally = await run.tally()
        finally:
            code = await run.close()
            print((tmp_path / "bot.log").read_text(errors="replace")[-4000:])

    injected = fault_counts(faults)
    replays = nonce_replays(fake)
    print(tally.summary())
    print(f"bot kills {run.bot_kills}; executor kills {run.executor_kills}")
    print(
        f"faults injected {injected}; nonce replays answered with the first message: {len(replays)}"
    )

    bad = "\n".join(t.describe() for t in tally.bad)
    assert len(tally.jobs) == len(run.interactions) == 3 * WAVE, tally.summary()
    assert not tally.bad, f"{tally.summary()}\nnot delivered exactly once:\n{bad}"
    assert health["discord_ready"] is True, health
    assert code == 0  # the last bot still shuts down cleanly
    assert len(run.bot_kills) >= 4 and len(run.armed_kills) == 2, run.bot_kills
    assert len(run.executor_kills) >= 4, run.executor_kills
    assert all(injected[k] > 0 for k in FAULT_KINDS), injected
    # The armed kills did what they were for: the killed post's retry was answered with the
    # first message (nonce), and the killed edit's retry re-edited the same original.
    (edited_job, _), (_, posted) = run.armed_kills
    # (A replay's own answer may have been replaced by an injected fault: the fake's note
    # names the message it answered with.)
    assert any(f"duplicate of message {posted}," in c.note for c in replays), (
        "the post was not retried by nonce"
    )
    edited = {t.job.id: t.deliveries[0] for t in tally.jobs}[edited_job]
    assert edited.where == "original" and len(edited.matched) >= 2, edited


def _healthy(run: ChaosRun):
    async def check():
        status, body = await run.healthz()
        return body if status == 200 else None

    return check


async def test_an_edit_that_took_effect_is_not_posted_again_once_the_token_is_gone(
    tmp_path: Path,
) -> None:
    """The bot dies right after its result edit of the response took effect, and by the time
    it is back the interaction token is gone (Discord: 15 minutes): the result is already on
    screen, so a channel post with a mention would show it twice."""
    async with FakeDiscord() as fake:
        run = ChaosRun(fake, tmp_path, chaos_env(executors=1), random.Random(SEED))
        try:
            await run.start()
            await run.submit(fake.alice)
            iid = run.interactions[-1]
            await run.kill_armed(ORIGINAL_ROUTE, while_down=lambda _job: fake.expire_token(iid))
            await run.wait_all_delivered(timeout=120)
            tally = await run.tally()
        finally:
            await run.close()
    (only,) = tally.jobs
    assert only.ok, only.describe()
    assert only.deliveries[0].where == "original", only.describe()
