"""`make bench-chaos`: exactly-once delivery of many jobs under the chaos test's faults.

The real `nst-bot run` with real executors (64 px `fast` jobs) against the fake Discord, which
answers a share of delivery requests with 429, 500 and connection resets (the second half of
the run: 5xx and resets after the request took effect); meanwhile the bot is SIGKILLed at
seeded random moments and twice right after a result post took effect, and executors are
SIGKILLed while they run a job. Prints deliveries, duplicates, lost, and the p50 / p99 / max
time from "finished" (finished_at) to "delivered" (delivered_at).

    python -m tests.bot.chaos_bench [--jobs 200] [--executors 2] [--seed 13] [--rate 0.15]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

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


async def bench(args: argparse.Namespace, workdir: Path) -> int:
    """Run the benchmark; exit code 1 when a job is lost or duplicated."""
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    async with FakeDiscord() as fake:
        places = three_users(fake)
        env = chaos_env(executors=args.executors)
        if args.db:
            env["DATABASE_URL"] = args.db
        run = ChaosRun(fake, workdir, env, rng)
        faults = []
        try:
            await run.start()
            faults.append(fake.chaos(args.rate, FAULT_KINDS, seed=args.seed, paths=DELIVERY_PATHS))
            await submit_jobs(run, places, 0, args.jobs)
            print(f"{args.jobs} jobs submitted in {time.monotonic() - t0:.1f} s", flush=True)
            await _havoc(run, rng)
            faults.append(
                fake.chaos(
                    args.rate, FAULT_KINDS, seed=args.seed + 1, paths=DELIVERY_PATHS, after=True
                )
            )
            await _havoc(run, rng)
            await run.wait_all_delivered(timeout=args.timeout)
            fake.chaos(None)
            tally = await run.tally()
        finally:
            await run.close()
    replays = len(nonce_replays(fake))
    print(tally.summary())
    print(f"bot kills {len(run.bot_kills)} ({len(run.armed_kills)} right after a result post)")
    print(f"executor kills {len(run.executor_kills)}")
    print(f"faults injected {fault_counts(faults)}; nonce replays deduplicated {replays}")
    print(f"wall time {time.monotonic() - t0:.0f} s")
    for t in tally.bad:
        print("NOT EXACTLY ONCE:", t.describe())
    return 1 if tally.bad or len(tally.jobs) != tally.submitted else 0


async def _havoc(run: ChaosRun, rng: random.Random) -> None:
    """One round of crashes in a seeded order: two bot kills at random moments, one right
    after a result edit or post took effect, three executor kills."""
    armed = rng.choice([ORIGINAL_ROUTE, CHANNEL_ROUTE])
    actions = ["bot", "bot", "armed", "executor", "executor", "executor"]
    rng.shuffle(actions)
    for action in actions:
        await run.pause(3, 15)
        if action == "bot":
            await run.kill_bot("at a random moment")
        elif action == "armed":
            await run.kill_armed(armed)
        else:
            await run.kill_executor()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--executors", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--rate", type=float, default=0.15, help="share of faulty requests")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds to deliver all")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nst-chaos-") as tmp:
        return asyncio.run(bench(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
