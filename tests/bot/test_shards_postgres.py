"""Two bot processes, one per shard (SHARD_COUNT=2, SHARD_IDS=0 and 1), on one PostgreSQL
database (issue 13): jobs made in guilds of both shards and in DMs are each delivered exactly
once, and by the process that owns the job's shard (DMs: shard 0). Which process delivered is
read from the store's `delivery_holder`, which embeds the process id (`host-pid-random`)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.shards import shard_of
from tests.bot.botproc import BotProcess, start_bot, stop_bot
from tests.bot.chaos import chaos_env, count_deliveries, tiny_png
from tests.bot.store.pg import fresh_database
from tests.fakediscord import FakeDiscord

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SHARDS = 2
JOBS_PER_PLACE = 3


def holder_pid(holder: str | None) -> int | None:
    """The process id inside a delivery holder id (`host-pid-random`)."""
    if not holder:
        return None
    parts = holder.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


async def start_shard(fake: FakeDiscord, root: Path, url: str, shard: int) -> BotProcess:
    """One bot process running `shard` of SHARDS; only shard 0's process runs an executor
    (two executor ids from one host would be a duplicate, and two cores are plenty busy)."""
    workdir = root / f"shard{shard}"
    workdir.mkdir()
    env = chaos_env(
        executors=1 if shard == 0 else 0,
        DATABASE_URL=url,
        SHARD_COUNT=str(SHARDS),
        SHARD_IDS=str(shard),
    )
    return await start_bot(fake, workdir, **env)


async def test_two_shard_processes_each_deliver_their_own_jobs_once(
    tmp_path: Path, postgres_url: str
) -> None:
    rng = random.Random(2)
    with fresh_database(postgres_url) as url:
        async with FakeDiscord(shard_count=SHARDS) as fake:
            guilds = [fake.add_guild(f"guild on shard {k}", shard=k) for k in range(SHARDS)]
            procs: list[BotProcess] = []
            store: Store | None = None
            try:
                # One after the other: both migrate at start-up, which is safe but slower at once.
                for k in range(SHARDS):
                    procs.append(await start_shard(fake, tmp_path, url, k))
                    await fake.wait_ready(timeout=90, shard=k)
                await fake.wait_until(lambda: "stylize" in fake.commands, timeout=30)
                store = await Store.open(url)
                images = [fake.add_attachment(tiny_png(i), f"i{i}.png") for i in range(3)]
                places = [{"guild": g} for g in guilds] + [{"dm": True}]
                iids = []
                for n in range(JOBS_PER_PLACE):
                    for i, where in enumerate(places):
                        content, style = rng.sample(images, 2)
                        user = (fake.alice, fake.bob)[(n + i) % 2]
                        opts = {"content": content, "style": style}
                        iids.append(await fake.slash("stylize", opts, user=user, **where))
                        if n == 1:  # one job per place goes by channel post or DM
                            await _wait_jobs(fake, store, len(iids))
                            fake.expire_token(iids[-1])
                await _wait_jobs(fake, store, len(iids))
                await fake.wait_until(_all_delivered(store), timeout=300, poll_s=0.5)
                jobs = await store.recent_jobs(limit=100)
                tally = count_deliveries(fake, jobs, len(iids))
            finally:
                if store is not None:
                    await store.close()
                codes = [await stop_bot(fake, p) for p in procs]
                for p in procs:
                    print(p.output()[-3000:])

    routed = {iid: fake.interaction(iid).shard for iid in iids}
    bad = "\n".join(t.describe() for t in tally.bad)
    assert len(tally.jobs) == len(iids) == JOBS_PER_PLACE * len(places), tally.summary()
    assert not tally.bad, f"{tally.summary()}\nnot delivered exactly once:\n{bad}"
    pid_shard = {p.proc.pid: k for k, p in enumerate(procs)}
    by_process = {k: 0 for k in range(SHARDS)}
    for t in tally.jobs:
        owner = shard_of(t.job.guild_id, SHARDS)
        delivered_by = pid_shard.get(holder_pid(t.job.delivery.holder))
        assert delivered_by == owner, (t.describe(), t.job.delivery.holder, pid_shard)
        by_process[owner] += 1
    assert by_process == {0: 2 * JOBS_PER_PLACE, 1: JOBS_PER_PLACE}, by_process  # DMs: shard 0
    assert sorted(routed.values(), key=str) == sorted(
        [(0, SHARDS)] * 2 * JOBS_PER_PLACE + [(1, SHARDS)] * JOBS_PER_PLACE, key=str
    ), routed  # the fake sent each command to its shard's session
    assert codes == [0] * SHARDS


async def _wait_jobs(fake: FakeDiscord, store: Store, n: int) -> None:
    async def stored():
        return len(await store.recent_jobs(limit=100)) >= n

    await fake.wait_until(stored, timeout=180, poll_s=0.1)  # two bots + torch start on 2 cores


def _all_delivered(store: Store):
    async def check():
        jobs = await store.recent_jobs(limit=100)
        return jobs and all(j.delivery.state in ("delivered", "undeliverable") for j in jobs)

    return check
