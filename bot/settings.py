"""Typed settings for every nst-bot process, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from nst_engine.params import MIN_SIZE, PRESET, SIZE, by_name

DEFAULT_API_BASE = "https://discord.com/api/v10"


class Settings(BaseSettings):
    """All configuration; see `.env.example` for the documented list."""

    # hide_input_in_errors: a refused value (or, for the cross-field checks, every value,
    # the token included) would otherwise be quoted in the error message.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    # Discord
    discord_token: SecretStr | None = None
    discord_api_base: str = DEFAULT_API_BASE
    discord_gateway_url: str | None = None
    discord_dev_guild_id: int | None = None
    owner_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    guild_ready_timeout_s: float = Field(2.0, ge=0)
    # Shards: None = one process runs every shard, as many as Discord recommends. With N bot
    # processes, each gets the same SHARD_COUNT and its own SHARD_IDS.
    shard_count: int | None = Field(None, ge=1)
    shard_ids: Annotated[list[int] | None, NoDecode] = None

    # Delivery of finished jobs (leased, retried with exponential backoff, then undeliverable)
    delivery_max_attempts: int = Field(8, ge=1)
    delivery_backoff_s: float = Field(5.0, gt=0)
    delivery_backoff_max_s: float = Field(600.0, gt=0)
    delivery_lease_s: float = Field(60.0, ge=3.0)
    delivery_sweep_s: float = Field(5.0, gt=0)

    # Storage
    database_url: str = "sqlite+aiosqlite:///data/nst-bot.db"
    data_dir: Path = Path("data")
    retention_days: int = Field(30, ge=1)
    purge_interval_s: float = Field(3600.0, gt=0)

    # Executors and engine
    # auto: one per core on a CPU host (at most 4), one on a GPU host (bot.executor.host).
    executors: int | Literal["auto"] = Field("auto", union_mode="left_to_right")
    device: str = "auto"
    weights: str = "caffe"
    # auto: bf16 VGG passes where the device has native bf16 (nst_engine.precision), else fp32.
    bf16: Literal["auto", "true", "false"] = "auto"
    engine_threads: int = Field(0, ge=0)
    default_size: int = Field(SIZE.default, ge=MIN_SIZE)
    max_size: int = Field(1024, ge=MIN_SIZE)
    default_preset: str = PRESET.default  # one of nst_engine.params.PRESET's choices
    heartbeat_interval_s: float = Field(3.0, gt=0)
    stale_after_s: float = Field(20.0, gt=0)
    max_crashes: int = Field(2, ge=1)
    # Long enough for one 1024 px evaluation on a CPU (> 10 s): SIGKILL only after that.
    executor_grace_s: float = Field(60.0, gt=0)
    executor_finish_grace_s: float = Field(5.0, ge=0)

    # Limits
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=10_000)
    per_user_queue_limit: int = Field(3, ge=1)
    global_queue_limit: int = Field(500, ge=1)
    guild_queue_limit: int = Field(100, ge=1)
    cooldown_s: float = Field(5.0, ge=0)
    progress_edit_interval_s: float = Field(3.0, ge=0.5)
    queue_refresh_interval_s: float = Field(15.0, ge=0.5)
    poll_interval_s: float = Field(0.5, gt=0)
    download_timeout_s: float = Field(20.0, gt=0)
    intake_concurrency: int = Field(8, ge=1)

    # Operations
    web_host: str = "127.0.0.1"
    web_port: int = Field(8080, ge=0, le=65535)
    web_public_url: str | None = None  # the address users reach the web face at (proxy)
    web_jobs_per_ip_hour: int = Field(30, ge=1)  # web jobs one address may queue per hour
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("owner_ids", "shard_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object, info: ValidationInfo) -> object:
        # Allow OWNER_IDS=1,2,3 (and SHARD_IDS=0,1) as well as a JSON list.
        if isinstance(value, str) and not value.strip("[] ") and info.field_name == "shard_ids":
            return None  # `SHARD_IDS=` in .env: unset, every shard
        if isinstance(value, str):
            return [int(part) for part in value.strip("[] ").replace(" ", "").split(",") if part]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("default_preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if problem := PRESET.problem(value):
            raise ValueError(problem)
        return value

    @field_validator("executors")
    @classmethod
    def _executors_count(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("EXECUTORS must be 0 or more, or auto")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        # Settings that contradict each other stop start-up, naming both.
        problems = [message for broken, message in _contradictions(self) if broken]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def job_default(self, name: str) -> object:
        """The default of the job parameter `name` (nst_engine.params): the operator's
        DEFAULT_SIZE / DEFAULT_PRESET for those two, the engine's default for the others."""
        operator: dict[str, object] = {"size": self.default_size, "preset": self.default_preset}
        return operator[name] if name in operator else by_name()[name].default

    @property
    def token(self) -> str | None:
        """The bot token, or None; never log the return value."""
        return self.discord_token.get_secret_value() if self.discord_token else None


def _contradictions(s: Settings) -> list[tuple[bool, str]]:
    """(is it broken, what to say) for each pair of settings that must agree."""
    return [
        (
            s.default_size > s.max_size,
            f"DEFAULT_SIZE ({s.default_size}) is larger than MAX_SIZE ({s.max_size})",
        ),
        (
            s.guild_queue_limit > s.global_queue_limit,
            f"GUILD_QUEUE_LIMIT ({s.guild_queue_limit}) is larger than GLOBAL_QUEUE_LIMIT "
            f"({s.global_queue_limit}): one server could take the whole queue",
        ),
        (
            s.per_user_queue_limit > s.guild_queue_limit,
            f"PER_USER_QUEUE_LIMIT ({s.per_user_queue_limit}) is larger than GUILD_QUEUE_LIMIT "
            f"({s.guild_queue_limit})",
        ),
        (
            s.stale_after_s <= s.heartbeat_interval_s,
            f"STALE_AFTER_S ({s.stale_after_s:g}) must be longer than HEARTBEAT_INTERVAL_S "
            f"({s.heartbeat_interval_s:g}), or live jobs are requeued as crashed",
        ),
        (
            s.shard_ids is not None and s.shard_count is None,
            f"SHARD_IDS ({_ids(s.shard_ids)}) needs SHARD_COUNT (the total over every bot process)",
        ),
        (
            bool(s.shard_ids and s.shard_count and max(s.shard_ids) >= s.shard_count),
            f"SHARD_IDS ({_ids(s.shard_ids)}) must lie below SHARD_COUNT ({s.shard_count}): "
            f"shards are numbered 0 to SHARD_COUNT-1",
        ),
        (
            s.shard_ids is not None and (not s.shard_ids or min(s.shard_ids) < 0),
            f"SHARD_IDS ({_ids(s.shard_ids)}) must name at least one shard, none negative",
        ),
        (
            s.delivery_backoff_s > s.delivery_backoff_max_s,
            f"DELIVERY_BACKOFF_S ({s.delivery_backoff_s:g}) is longer than DELIVERY_BACKOFF_MAX_S "
            f"({s.delivery_backoff_max_s:g})",
        ),
        (
            s.delivery_sweep_s >= s.delivery_lease_s,
            f"DELIVERY_SWEEP_S ({s.delivery_sweep_s:g}) must be shorter than DELIVERY_LEASE_S "
            f"({s.delivery_lease_s:g}), or a dead process's deliveries wait a whole extra sweep",
        ),
        (
            s.executor_finish_grace_s >= s.executor_grace_s,
            f"EXECUTOR_FINISH_GRACE_S ({s.executor_finish_grace_s:g}) must be shorter than "
            f"EXECUTOR_GRACE_S ({s.executor_grace_s:g}), or a finishing job is killed",
        ),
    ]


def _ids(ids: list[int] | None) -> str:
    return ",".join(str(i) for i in ids) if ids is not None else "unset"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return Settings()
