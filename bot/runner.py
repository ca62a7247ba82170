"""`nst-bot run`: migrate, then the Discord bot, supervised executors and the web endpoint in
one process, until SIGINT/SIGTERM (or the bot stops), then a clean shutdown in reverse order.

This module is part of the Discord process and must never import torch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from bot.executor.host import host_plan
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.discord_bot import NSTBot
    from bot.store import Job

log = logging.getLogger("bot.runner")

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2


def run(settings: Settings, executors: int | None = None) -> int:
    """Run everything until a signal; returns the process exit code."""
    from bot.discord_bot.redact import setup_logging

    setup_logging(settings.log_level, settings.token)
    plan = host_plan(settings, executors)
    log.info(
        "executors on this host: %d, %d engine thread(s) each (%s)",
        plan.executors,
        plan.engine_threads,
        plan.why,
    )
    settings = settings.model_copy(update={"engine_threads": plan.engine_threads})
    try:
        return asyncio.run(_main(settings, plan.executors))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return EXIT_ERROR


async def _main(settings: Settings, executors: int) -> int:
    import discord

    from bot.discord_bot import NSTBot, apply_endpoints
    from bot.executor.supervisor import Supervisor
    from bot.retention import purge_loop
    from bot.store import Store, migrate
    from bot.web import Metrics, create_app, monitor_loop_lag, start_web

    try:
        await asyncio.to_thread(migrate, settings.database_url)
        store = await Store.from_settings(settings)
    except Exception as exc:
        log.error("cannot prepare the database: %s", exc.__class__.__name__)
        log.debug("database error", exc_info=exc)
        return EXIT_CONFIG

    metrics = Metrics()
    bot: NSTBot | None = None
    if settings.token:  # without one, Discord is off: the web face and executors run alone
        apply_endpoints(settings)
        bot = NSTBot(settings, store)
        # Which jobs this process edits and delivers (SHARD_COUNT / SHARD_IDS), and as whom.
        log.info("delivering for %s as %s", bot.watcher.shards or "every shard", bot.watcher.holder)

        async def on_job_settled(job: Job) -> None:
            metrics.observe_job(job)

        bot.add_listener(on_job_settled)
    supervisor = Supervisor(settings, executors, store=store) if executors > 0 else None

    def extra() -> dict[str, object]:
        return {
            "discord_ready": bot.is_ready() if bot else "off",
            "executors_supervised": supervisor.alive() if supervisor else 0,
        }

    app = create_app(
        store,
        stale_after_s=settings.stale_after_s,
        metrics=metrics,
        extra=extra,
        settings=settings,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    web_runner = None
    lag_task = asyncio.create_task(monitor_loop_lag(metrics), name="loop-lag")
    purge_task = asyncio.create_task(
        purge_loop(store, settings.retention_days, settings.purge_interval_s), name="purge"
    )
    code = EXIT_OK
    bot_task: asyncio.Task[None] | None = None
    try:
        web_runner, port = await start_web(app, settings.web_host, settings.web_port)
        if port:
            url = settings.web_public_url or f"http://{settings.web_host}:{port}/"
            print(f"nst-bot: web playground at {url}", file=sys.stderr, flush=True)
        if supervisor is not None:
            await supervisor.start()
        stopper = asyncio.create_task(stop.wait(), name="signals")
        waiting: set[asyncio.Task[Any]] = {stopper}
        if bot is not None:
            bot_task = asyncio.create_task(bot.start(settings.token or ""), name="discord-bot")
            waiting.add(bot_task)
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if bot_task is not None and bot_task in done:
            ended = bot_task.exception()
            if isinstance(ended, discord.LoginFailure):
                log.error("Discord rejected DISCORD_TOKEN; check the token in .env")
                code = EXIT_CONFIG
            elif ended is not None:
                log.error("the bot stopped: %s", ended.__class__.__name__, exc_info=ended)
                code = EXIT_ERROR
        else:
            log.info("signal received: shutting down")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        lag_task.cancel()
        purge_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge_task  # out of the database before the store closes
        if bot is not None:
            await bot.close()
        if bot_task is not None and not bot_task.done():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(bot_task, 10)
        if supervisor is not None:
            await supervisor.stop()
        if web_runner is not None:
            await web_runner.cleanup()
        await store.close()
        log.info("stopped")
    return code
