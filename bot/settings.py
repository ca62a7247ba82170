"""Typed settings for every nst-bot process, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_API_BASE = "https://discord.com/api/v10"


class Settings(BaseSettings):
    """All configuration; see `.env.example` for the documented list."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Discord
    discord_token: SecretStr | None = None
    discord_api_base: str = DEFAULT_API_BASE
    discord_gateway_url: str | None = None
    discord_dev_guild_id: int | None = None
    owner_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    guild_ready_timeout_s: float = Field(2.0, ge=0)

    # Storage
    database_url: str = "sqlite+aiosqlite:///data/nst-bot.db"
    data_dir: Path = Path("data")
    retention_days: int = Field(30, ge=1)

    # Executors and engine
    executors: int = Field(1, ge=0)
    device: str = "auto"
    weights: str = "caffe"
    bf16: bool = False
    engine_threads: int = Field(0, ge=0)
    default_size: int = Field(512, ge=64)
    max_size: int = Field(1024, ge=64)
    default_preset: Literal["fast", "standard", "high"] = "standard"
    heartbeat_interval_s: float = Field(3.0, gt=0)
    stale_after_s: float = Field(20.0, gt=0)
    max_crashes: int = Field(2, ge=1)
    executor_grace_s: float = Field(10.0, gt=0)
    executor_finish_grace_s: float = Field(5.0, ge=0)

    # Limits
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=10_000)
    per_user_queue_limit: int = Field(3, ge=1)
    global_queue_limit: int = Field(500, ge=1)
    cooldown_s: float = Field(5.0, ge=0)
    progress_edit_interval_s: float = Field(3.0, ge=0.5)
    queue_refresh_interval_s: float = Field(15.0, ge=0.5)
    poll_interval_s: float = Field(0.5, gt=0)
    download_timeout_s: float = Field(20.0, gt=0)
    intake_concurrency: int = Field(8, ge=1)

    # Operations
    web_host: str = "127.0.0.1"
    web_port: int = Field(8080, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("owner_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        # Allow OWNER_IDS=1,2,3 as well as a JSON list.
        if isinstance(value, str):
            return [int(part) for part in value.strip("[] ").replace(" ", "").split(",") if part]
        if isinstance(value, int):
            return [value]
        return value

    @property
    def token(self) -> str | None:
        """The bot token, or None; never log the return value."""
        return self.discord_token.get_secret_value() if self.discord_token else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return Settings()
