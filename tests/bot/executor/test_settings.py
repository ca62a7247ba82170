"""Executors never hold the bot token, nor interaction tokens: checked in the `.env` reader, in
`claim`, and in the memory of real executor processes (standalone and supervised)."""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.executor.settings import executor_settings, read_env_file_without_secrets
from bot.executor.supervisor import Supervisor
from bot.settings import Settings
from bot.store import InteractionRef, JobStatus, Store
from tests.bot.executor.conftest import (
    TINY,
    Cluster,
    all_finished,
    executor_env,
    wait_for,
)

CHUNK = 8 << 20


def memory_holds(pid: int, needles: list[bytes]) -> dict[bytes, bool]:
    """Which `needles` occur in the writable or anonymous memory of process `pid`.

    Read-only file mappings (shared libraries, the interpreter) are skipped: they are the
    files on disk, where a secret can't land without the process writing a file.
    """
    found = dict.fromkeys(needles, False)
    overlap = max(map(len, needles)) - 1
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            perms, path = fields[1], fields[5] if len(fields) > 5 else ""
            if not perms.startswith("r") or path in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
                continue
            if "w" not in perms and path.startswith("/"):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            tail = b""
            while start < end:
                try:
                    mem.seek(start)
                    chunk = mem.read(min(CHUNK, end - start))
                except OSError:
                    break
                if not chunk:
                    break
                data = tail + chunk
                for needle in needles:
                    found[needle] = found[needle] or needle in data
                tail = data[-overlap:]
                start += len(chunk)
    return found


def write_env_file(folder: Path, token: str, marker: str) -> None:
    """A `.env` like an operator's: the token among ordinary settings."""
    (folder / ".env").write_text(
        "# nst-bot\n"
        f"DISCORD_TOKEN={token}\n"
        f"DISCORD_API_BASE=https://{marker}.invalid/api/v10\n"
        "LOG_LEVEL=INFO\n"
    )


def test_env_reader_skips_every_spelling_of_a_secret_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "DISCORD_TOKEN=a1\n"
        "  export discord_token = 'a2'\n"
        'Discord_Token="a3"\r\n'
        "DISCORD_TOKEN_HINT=kept\n"
        "MAX_SIZE=300\n"
        "DISCORD_TOKEN=a4"  # no final newline
    )
    text = read_env_file_without_secrets(env)
    assert text == "DISCORD_TOKEN_HINT=kept\nMAX_SIZE=300\n"


def test_executor_settings_ignore_the_token_in_env_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_env_file(tmp_path, "file-token", "data")
    with (tmp_path / ".env").open("a") as f:
        f.write("MAX_SIZE=300\nDEFAULT_SIZE=256\n")
    monkeypatch.setenv("DISCORD_TOKEN", "env-token")
    monkeypatch.setenv("MAX_SIZE", "320")  # the environment still overrides the file
    assert Settings().token == "env-token"  # what the executor used to get

    settings = executor_settings()
    assert settings.token is None
    assert "DISCORD_TOKEN" not in os.environ
    assert settings.max_size == 320 and settings.default_size == 256
    assert settings.discord_api_base == "https://data.invalid/api/v10"


async def test_claim_returns_no_interaction_token(store: Store, inputs) -> None:
    token = "interaction-" + secrets.token_hex(16)
    ref = InteractionRef(
        application_id=7, token=token, expires_at=datetime.now(UTC) + timedelta(minutes=15)
    )
    job = await store.submit(
        1, 2, 3, inputs["tubingen"], [(inputs["starry_night"], 1.0)], TINY, ref
    )
    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == job.id
    assert claimed.job.interaction is not None
    assert claimed.job.interaction.token is None
    assert claimed.job.interaction.application_id == 7
    assert token not in repr(claimed)
    stored = await store.get_job(job.id)  # the bot still has it for delivery
    assert stored is not None and stored.interaction is not None
    assert stored.interaction.token == token


def _assert_clean(pid: int, token: str, marker: str) -> None:
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert token.encode() not in environ and b"DISCORD_TOKEN" not in environ
    found = memory_holds(pid, [token.encode(), marker.encode()])
    # Positive control: a setting read from the same .env, so the scan does see that memory.
    assert found[marker.encode()], "the scan should find DISCORD_API_BASE from the same .env"
    assert not found[token.encode()], "the bot token is in the executor's memory"


async def test_standalone_executor_never_holds_the_bot_token(
    store: Store, cluster: Cluster, inputs
) -> None:
    token, marker = "tok-" + secrets.token_hex(24), "data-" + secrets.token_hex(8)
    write_env_file(cluster.workdir, token, marker)  # the executor's working directory
    job = await store.submit(
        1, None, None, inputs["tubingen"], [(inputs["starry_night"], 1.0)], TINY
    )
    ex = cluster.spawn("solo")
    done = await wait_for(lambda: all_finished(store, [job.id]), 120, "the job", cluster=cluster)
    assert done[job.id].status is JobStatus.SUCCEEDED, ex.log()
    assert ex.alive()
    _assert_clean(ex.pid, token, marker)
    assert token not in ex.log()


async def test_supervised_executor_never_holds_the_bot_token(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, marker = "tok-" + secrets.token_hex(24), "data-" + secrets.token_hex(8)
    write_env_file(tmp_path, token, marker)
    monkeypatch.chdir(tmp_path)  # children start where the bot runs, next to its .env
    settings = Settings(_env_file=None, database_url=sqlite_url, device="cpu")
    log = tmp_path / "executors.log"
    env = executor_env(sqlite_url, DISCORD_TOKEN=token)  # the bot's own environment
    sup = Supervisor(settings, 1, host="box", env=env, output=log)
    await sup.start()
    try:

        async def ready() -> bool:
            return bool(re.search(r"executor box-1 ready", log.read_text()))

        await wait_for(ready, 120, "the supervised executor to warm up")
        pid = sup.pids()[0]
        assert pid is not None
        _assert_clean(pid, token, marker)
    finally:
        await sup.stop()
    assert token not in log.read_text()
