"""Scale-out: three executor processes share one PostgreSQL queue (CI starts the server)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bot.store import JobStatus, Store, migrate
from tests.bot.executor.conftest import Cluster, all_finished, submit_many, wait_for
from tests.bot.executor.test_worker import count_lines


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh, migrated database on the test server, dropped afterwards."""
    server = make_url(postgres_url)
    name = f"nst_exec_{uuid.uuid4().hex[:10]}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Store]:
    s = await Store.open(pg_url, per_user_queue_limit=1000, global_queue_limit=10_000)
    yield s
    await s.close()


async def test_three_executors_thirty_jobs_exactly_once_and_fair(
    pg_url, pg_store, inputs, tmp_path: Path
):
    # A heavy user queues 20 jobs before two light users queue 5 each.
    heavy = await submit_many(pg_store, inputs, 20, users=1, first_user=1)
    light = await submit_many(pg_store, inputs, 10, users=2, first_user=2)
    ids = [j.id for j in heavy + light]

    cluster = Cluster(pg_url, tmp_path)
    try:
        for n in range(3):
            cluster.spawn(f"pg-{n}")
        done = await wait_for(lambda: all_finished(pg_store, ids), 240, "30 jobs", cluster=cluster)
        assert all(p.alive() for p in cluster.procs), cluster.logs()
    finally:
        cluster.stop_all()

    assert all(j.status == JobStatus.SUCCEEDED for j in done.values()), cluster.logs()
    assert all(j.attempts == 1 and j.crashes == 0 and j.result_sha for j in done.values())
    per_worker = Counter(j.worker_id for j in done.values())
    assert set(per_worker) == {"pg-0", "pg-1", "pg-2"}, per_worker
    assert count_lines(cluster, r"claimed job (\d+) ") == Counter(dict.fromkeys(ids, 1))
    assert count_lines(cluster, r"job (\d+) succeeded") == Counter(dict.fromkeys(ids, 1))
    # Round-robin across owners: the light users' ten jobs are done long before the heavy
    # user's twenty (strict alternation would start them all within the first 15).
    order = [j.id for j in sorted(done.values(), key=lambda j: j.started_at)]
    assert {j.id for j in light} <= set(order[:18]), order
