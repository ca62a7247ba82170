"""A claimer process for the exactly-once tests: claims and completes jobs until none are left.

python -m tests.bot.store.claimer URL WORKER_ID   → prints one claimed job id per line
"""

from __future__ import annotations

import asyncio
import sys

from bot.store import Store


async def drain(url: str, worker_id: str) -> list[int]:
    store = await Store.open(url)
    claimed: list[int] = []
    try:
        misses = 0
        while misses < 3:  # all jobs are queued before the claimers start
            job = await store.claim(worker_id)
            if job is None:
                misses += 1
                await asyncio.sleep(0.05)
                continue
            misses = 0
            claimed.append(job.job.id)
            ok = await store.complete(
                job.job.id, worker_id, b"png-" + worker_id.encode(), 1, 1, 0.01
            )
            assert ok, f"{worker_id} lost job {job.job.id}"
    finally:
        await store.close()
    return claimed


if __name__ == "__main__":
    for job_id in asyncio.run(drain(sys.argv[1], sys.argv[2])):
        print(job_id)
