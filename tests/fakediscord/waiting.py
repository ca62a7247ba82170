"""Waiting on the fake: event-driven waits over recorded calls and state, failing at once when
a watched bot task or process dies or reports an error."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable
from typing import Any

from .records import RecordedCall


class FakeDiscordError(AssertionError):
    """A wait timed out, or a watched bot task/process died or reported an error."""


class Waiting:
    """The waiting half of FakeDiscord (needs `calls` and `_changed`)."""

    calls: list[RecordedCall]

    def __init__(self) -> None:
        self.failures: list[BaseException] = []
        self._watched: list[asyncio.Future[Any]] = []
        self._changed: asyncio.Event | None = None

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def watch(self, target: asyncio.Future[Any] | Any) -> None:
        """Fail every wait at once when this task (or asyncio subprocess) ends."""
        if isinstance(target, asyncio.Future):
            fut = target
        else:
            fut = asyncio.ensure_future(target.wait())
            fut.proc = target  # type: ignore[attr-defined]
        self._watched.append(fut)
        fut.add_done_callback(lambda _f: self._notify())

    def unwatch(self, target: asyncio.Future[Any] | Any) -> None:
        """Stop watching (before stopping the bot on purpose)."""
        for fut in list(self._watched):
            if fut is target or getattr(fut, "proc", None) is target:
                self._watched.remove(fut)
                if fut is not target:
                    fut.cancel()

    def fail(self, exc: BaseException) -> None:
        """Record an error (e.g. from `tree.on_error`); every wait then raises."""
        self.failures.append(exc)
        self._notify()

    def _check_failures(self) -> None:
        if self.failures:
            exc = self.failures[0]
            raise FakeDiscordError(f"the bot reported an error: {exc!r}") from exc
        for fut in self._watched:
            if fut.done():
                proc = getattr(fut, "proc", None)
                if proc is not None:
                    raise FakeDiscordError(f"the bot process exited with {proc.returncode}")
                exc = None if fut.cancelled() else fut.exception()
                raise FakeDiscordError(f"the bot task ended early: {exc!r}") from exc

    async def wait_until(
        self,
        condition: Callable[[], Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented API of the fake
        *,
        what: str = "",
        poll_s: float = 0.05,
    ) -> Any:
        """Return `condition()` once truthy (an async condition is awaited).

        Re-checked on every recorded call, message change or gateway frame, and every `poll_s`
        for conditions over state the fake cannot see change (the bot's, the store's).
        AttributeError/LookupError/TypeError inside the condition (`fake.original(iid).content`
        before there is an original) count as "not yet"; the last one is shown on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_error: Exception | None = None
        while True:
            self._check_failures()
            try:
                value = condition()
                if inspect.isawaitable(value):
                    value = await value
            except (AttributeError, LookupError, TypeError) as exc:
                value, last_error = None, exc
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                desc = what or getattr(condition, "__name__", "condition")
                recent = "\n  ".join(repr(c) for c in self.calls[-8:])
                err = f" (last error in the condition: {last_error!r})" if last_error else ""
                raise FakeDiscordError(
                    f"timed out after {timeout}s waiting for {desc}{err}; last calls:\n  {recent}"
                )
            assert self._changed is not None, "FakeDiscord is not started"
            waiter = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait(
                    [waiter, *self._watched],
                    timeout=min(remaining, poll_s),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiter.cancel()

    async def wait_for(
        self,
        predicate: Callable[[RecordedCall], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented API of the fake
        *,
        since: int = 0,
    ) -> RecordedCall:
        """The first recorded call from index `since` on that satisfies `predicate`.

        Use `since=len(fake.calls)` (taken before acting) to wait only for new calls.
        """

        pos = since

        def found() -> RecordedCall | None:
            nonlocal pos  # calls are append-only: scan each one once, even under load
            while pos < len(self.calls):
                call = self.calls[pos]
                pos += 1
                if predicate(call):
                    return call
            return None

        return await self.wait_until(found, timeout, what=f"a call matching {predicate!r}")

    def find(self, method: str | None = None, path: str = ".*") -> list[RecordedCall]:
        """Recorded calls with this method whose path fully matches the regex `path`."""
        rx = re.compile(path)
        return [
            c for c in self.calls if (method is None or c.method == method) and rx.fullmatch(c.path)
        ]
