"""Fixtures for the bot tests: a real SQLite store, settings, and the bot running against the
protocol-level fake Discord (real HTTP and websocket on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.discord_bot import NSTBot
from bot.settings import Settings
from bot.store import Store, migrate
from tests.fakediscord import FakeDiscord, redirect_discord_py, run_bot
from tests.fakediscord.fixtures import fake_discord  # noqa: F401


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for tests: tiny fast jobs, short intervals, no cooldown."""
    values: dict[str, Any] = {
        "discord_token": "fake-bot-token",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'nst.db'}",
        "data_dir": tmp_path / "data",
        "default_size": 64,
        "max_size": 256,
        "default_preset": "fast",
        "progress_edit_interval_s": 0.5,
        "cooldown_s": 0.0,
        "per_user_queue_limit": 3,
        "heartbeat_interval_s": 0.5,
        "stale_after_s": 3.0,
        "device": "cpu",
        "executors": 1,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def open_store(settings: Settings) -> Store:
    await asyncio.to_thread(migrate, settings.database_url)
    return await Store.from_settings(settings)


@dataclass
class BotEnv:
    fake: FakeDiscord
    bot: NSTBot
    store: Store
    settings: Settings
    errors: list[tuple[str, BaseException]] = field(default_factory=list)

    def error_codes(self) -> list[str]:
        return [code for code, _ in self.errors]


@contextlib.asynccontextmanager
async def started_bot(
    fake: FakeDiscord, store: Store, settings: Settings, **kwargs: Any
) -> AsyncIterator[NSTBot]:
    bot = NSTBot(settings, store, guild_ready_timeout=0.05, poll_s=0.05, **kwargs)
    async with run_bot(bot, fake, error_loggers=("discord", "bot")):
        yield bot


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    s = await open_store(settings)
    yield s
    await s.close()


def on_failure(bot: NSTBot, record: Callable[[str, BaseException], object]) -> None:
    """Call `record(code, error)` for every failed command or button (the bot dispatches
    `interaction_failed`)."""

    async def on_interaction_failed(_interaction: object, error: BaseException, code: str) -> None:
        record(code, error)

    bot.add_listener(on_interaction_failed)


@pytest.fixture
async def env(fake_discord: FakeDiscord, store: Store, settings: Settings) -> AsyncIterator[BotEnv]:  # noqa: F811
    async with started_bot(fake_discord, store, settings) as bot:
        e = BotEnv(fake_discord, bot, store, settings)
        on_failure(bot, lambda code, exc: e.errors.append((code, exc)))
        yield e
    # Every call the bot made must be one the fake implements (else it answered a JSON 404).
    assert fake_discord.unknown_calls == []


__all__ = [
    "BotEnv",
    "make_settings",
    "on_failure",
    "open_store",
    "redirect_discord_py",
    "started_bot",
]
