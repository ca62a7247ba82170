"""Settings for executor processes: everything in the environment and `.env` except secrets.

An executor runs untrusted images through a large native stack (Pillow, torch), so it must
never hold the bot token. The supervisor already leaves it out of a child's environment, but
pydantic-settings would read it straight back from `.env`. Here the `.env` file is read into
one buffer, secret lines are skipped before anything is decoded, and the buffer is zeroed, so
the token's bytes never exist anywhere else in the process.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources import DotEnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from bot.settings import Settings

log = logging.getLogger(__name__)

# Environment / `.env` names an executor must never read (upper case; matching ignores case).
SECRET_ENV = ("DISCORD_TOKEN",)
ENV_FILE = Settings.model_config.get("env_file")
_MAX_ENV_FILE_BYTES = 1 << 20  # a `.env` is a few KB; refuse to buffer anything huge


def executor_settings() -> Settings:
    """Settings for `nst-bot executor`, with no secret read from the environment or `.env`.

    A secret found in this process's environment is dropped from `os.environ` before the
    settings are built (its copy in the initial environment block can't be undone; a warning
    says to stop exporting it on executor hosts).
    """
    leaked = [name for name in os.environ if name.upper() in SECRET_ENV]
    for name in leaked:
        del os.environ[name]
    settings = _ExecutorSettings(discord_token=None)
    if leaked:
        log.warning(
            "%s is set in this executor's environment; it is ignored. Executors never need it:"
            " don't export it on executor hosts.",
            ", ".join(sorted(leaked)),
        )
    return settings


def read_env_file_without_secrets(path: Path, encoding: str = "utf-8") -> str:
    """The text of a `.env` file minus the lines that assign a name in `SECRET_ENV`.

    The file is read straight into one mutable buffer (no buffered copy), lines are copied
    out only when they are not secret, and the buffer is zeroed before returning.
    """
    buffer = bytearray(min(os.path.getsize(path), _MAX_ENV_FILE_BYTES))
    view = memoryview(buffer)
    try:
        with open(path, "rb", buffering=0) as f:
            filled = 0
            while filled < len(buffer):
                n = f.readinto(view[filled:])
                if not n:
                    break
                filled += n
        kept: list[bytes] = []
        start = 0
        while start < filled:
            end = buffer.find(b"\n", start, filled)
            end = filled if end < 0 else end + 1
            if not _assigns_secret(buffer, start, end):
                kept.append(bytes(buffer[start:end]))
            start = end
        return b"".join(kept).decode(encoding)
    finally:
        view.release()
        buffer[:] = bytes(len(buffer))  # same length: overwritten in place


def _assigns_secret(buffer: bytearray, start: int, end: int) -> bool:
    """Whether `buffer[start:end]` is `[export ]NAME=...` for a secret NAME (only the name is
    copied out of the buffer, never the value)."""
    while start < end and buffer[start] in b" \t":
        start += 1
    if buffer.startswith(b"export ", start, end):
        start += len(b"export ")
        while start < end and buffer[start] in b" \t":
            start += 1
    for name in SECRET_ENV:
        stop = start + len(name)
        if stop <= end and bytes(buffer[start:stop]).upper() == name.encode():
            rest = stop
            while rest < end and buffer[rest] in b" \t":
                rest += 1
            if rest == end or buffer[rest] in b"=\r\n":
                return True
    return False


class _SecretFreeDotEnv(DotEnvSettingsSource):
    """The `.env` source with the secret lines removed before python-dotenv parses the file."""

    def _read_env_file(self, file_path: Path) -> Mapping[str, str | None]:
        text = read_env_file_without_secrets(file_path, self.env_file_encoding or "utf-8")
        values = dotenv_values(stream=io.StringIO(text))
        return parse_env_vars(
            values, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class _ExecutorSettings(Settings):
    # No default `.env` source: pydantic-settings would read the whole file, token included,
    # as soon as it is constructed. `settings_customise_sources` puts ours in its place.
    model_config = SettingsConfigDict(env_file=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        dotenv = _SecretFreeDotEnv(settings_cls, env_file=ENV_FILE)
        return init_settings, env_settings, dotenv, file_secret_settings
