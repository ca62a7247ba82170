"""Running a real discord.py bot against the fake: redirecting discord.py, starting the bot as a
watched task, and turning swallowed errors into test failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import FakeDiscord


@contextlib.contextmanager
def redirect_discord_py(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py (process-wide) at the fake: `Route.BASE` and `DEFAULT_GATEWAY`.

    Restored on exit. Only one fake per process can be the target at a time.
    """
    import discord.gateway
    import discord.http
    import yarl

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class ErrorCapture(logging.Handler):
    """Collects ERROR records (with or without traceback) from the given loggers and reports
    them to the fake, so discord.py's "Ignoring exception in command ..." fails the test."""

    def __init__(self, fake: FakeDiscord, loggers: Sequence[str]) -> None:
        super().__init__(level=logging.ERROR)
        self.fake = fake
        self.loggers = [logging.getLogger(name) for name in loggers]
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        exc = record.exc_info[1] if record.exc_info else None
        err = LoggedError(f"{record.name}: {record.getMessage()}")
        err.__cause__ = exc
        self.fake.fail(err)

    def __enter__(self) -> ErrorCapture:
        for lg in self.loggers:
            lg.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for lg in self.loggers:
            lg.removeHandler(self)


class LoggedError(Exception):
    """An ERROR log record from the bot, turned into a failure."""


@contextlib.contextmanager
def _tree_errors_fail(bot: Any, fake: FakeDiscord, *, enabled: bool) -> Iterator[None]:
    """An error escaping the bot's own `tree.on_error` ends discord.py's invoker task silently
    (pitfall 3); wrap the handler so such an error fails the test instead."""
    tree = getattr(bot, "tree", None)
    if tree is None or not enabled:
        yield
        return
    had_own = "on_error" in vars(tree)
    original = tree.on_error

    async def on_error(interaction: Any, error: Exception) -> None:
        try:
            await original(interaction, error)
        except Exception as exc:
            fake.fail(exc)

    tree.on_error = on_error
    try:
        yield
    finally:
        if had_own:
            tree.on_error = original
        else:
            del tree.on_error


@contextlib.asynccontextmanager
async def run_bot(
    bot: Any,
    fake: FakeDiscord,
    *,
    token: str | None = None,
    ready_timeout: float = 10.0,
    error_loggers: Sequence[str] = ("discord",),
) -> AsyncIterator[Any]:
    """Start `bot` (a `discord.Client`/`commands.Bot`) against `fake` and wait until ready.

    Every `fake.wait_*` then fails at once if the bot task dies (e.g. a payload discord.py cannot
    parse), an ERROR is logged on `error_loggers`, or an error escapes `bot.tree.on_error`
    (pass `error_loggers=()` to allow both when a test expects errors).
    The bot is closed on exit. Use inside `redirect_discord_py(fake)`.
    """
    capture = ErrorCapture(fake, error_loggers)
    with capture, _tree_errors_fail(bot, fake, enabled=bool(error_loggers)):
        task = asyncio.create_task(bot.start(token or fake.token or "x"), name="fakediscord-bot")
        fake.watch(task)
        try:
            await fake.wait_until(bot.is_ready, ready_timeout, what="the bot to be ready")
            yield bot
        finally:
            fake.unwatch(task)  # the bot ending now is expected
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5.0)
