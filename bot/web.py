"""Operations endpoint: `/healthz` and Prometheus `/metrics` (aiohttp, inside `nst-bot run`).

Health is 200 only when the database answers and at least one executor heartbeat is fresh;
otherwise 503 with the reasons. Metrics are read from the store at scrape time (jobs by status,
queue depth, executors) plus what the bot observed (job durations, engine speed, deliveries).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.store import Job, JobStatus, Store

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

DURATION_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, float("inf"))
METRICS_KEY: web.AppKey[Metrics] = web.AppKey("metrics")
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, float("inf"))


class Metrics:
    """The bot's Prometheus metrics, in their own registry (so tests can make several)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.jobs = Gauge("nst_jobs", "Jobs in the store by status", ["status"], registry=r)
        self.queue_depth = Gauge("nst_queue_depth", "Jobs waiting for an executor", registry=r)
        self.executors = Gauge(
            "nst_executors_online", "Executors with a fresh heartbeat", registry=r
        )
        self.duration = Histogram(
            "nst_job_duration_seconds",
            "Engine time of succeeded jobs",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.steps_per_s = Gauge(
            "nst_engine_steps_per_second", "Optimizer steps per second of the last job", registry=r
        )
        self.steps = Counter("nst_engine_steps", "Optimizer steps of finished jobs", registry=r)
        self.loop_lag = Histogram(
            "nst_event_loop_lag_seconds",
            "How late the bot's event loop wakes a 50 ms timer (responsiveness)",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.finished = Counter(
            "nst_jobs_finished", "Jobs seen finishing, by outcome", ["status"], registry=r
        )

    def observe_job(self, job: Job) -> None:
        """Record a finished job (called once per job when its outcome is delivered)."""
        self.finished.labels(job.status.value).inc()
        if job.status != JobStatus.SUCCEEDED or not job.elapsed_s:
            return
        self.duration.observe(job.elapsed_s)
        if job.progress.total:
            self.steps.inc(job.progress.total)
            self.steps_per_s.set(job.progress.total / job.elapsed_s)

    async def refresh(self, store: Store, stale_after_s: float) -> None:
        """Update the gauges read from the store."""
        stats = await store.stats()
        for status in JobStatus:
            self.jobs.labels(status.value).set(getattr(stats, status.value))
        self.queue_depth.set(stats.queued)
        self.executors.set(await store.executors_online(stale_after_s=stale_after_s))


async def monitor_loop_lag(metrics: Metrics, period_s: float = 0.05) -> None:
    """Forever: sleep `period_s` and record how late the wake-up was (cancel to stop)."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(period_s)
        metrics.loop_lag.observe(max(0.0, loop.time() - start - period_s))


async def health(store: Store, stale_after_s: float, timeout_s: float = 3.0) -> tuple[bool, dict]:
    """(healthy, details): the database answers and an executor heartbeat is fresh."""
    details: dict[str, Any] = {"database": "ok", "executors_online": 0, "reasons": []}
    try:
        await asyncio.wait_for(store.ping(), timeout_s)
    except Exception as exc:  # any failure means unreachable; the class name says which
        details["database"] = "unreachable"
        details["reasons"].append(f"database unreachable ({exc.__class__.__name__})")
        return False, details
    online = await asyncio.wait_for(store.executors_online(stale_after_s=stale_after_s), timeout_s)
    details["executors_online"] = online
    if online < 1:
        details["reasons"].append(f"no executor heartbeat in the last {stale_after_s:g} s")
    return not details["reasons"], details


def create_app(
    store: Store,
    *,
    stale_after_s: float = 20.0,
    metrics: Metrics | None = None,
    extra: Callable[[], dict[str, Any]] | None = None,
    settings: Settings | None = None,
) -> web.Application:
    """The aiohttp application; `extra()` adds informational fields to `/healthz`; with
    `settings`, the web playground (`bot.webui`) is mounted at `/` too."""
    metrics = metrics or Metrics()

    async def healthz(request: web.Request) -> web.Response:
        ok, details = await health(store, stale_after_s)
        details["status"] = "ok" if ok else "unhealthy"
        if extra is not None:
            details.update(extra())
        return web.json_response(details, status=200 if ok else 503)

    async def metrics_view(request: web.Request) -> web.Response:
        try:
            await metrics.refresh(store, stale_after_s)
        except Exception as exc:
            log.warning("metrics refresh failed: %s", exc.__class__.__name__)
        body = generate_latest(metrics.registry)
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    app = web.Application()
    app[METRICS_KEY] = metrics
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    if settings is not None:
        from bot import webui  # aiohttp + Jinja2, torch-free; only where it is served

        webui.setup(app, store, settings, on_finished=metrics.observe_job)
    return app


async def start_web(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `app`; returns the runner (call `cleanup()`) and the bound port (port 0 = any)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port  # what port=0 picked
    log.info("web endpoint on http://%s:%d (/healthz, /metrics)", host, bound)
    return runner, bound
