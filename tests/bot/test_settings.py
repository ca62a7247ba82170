"""Settings are typed, read from the environment, and never leak the token."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings
from nst_engine.params import JOB_PARAMS, PRESET, SIZE


def test_defaults_are_sqlite_and_no_token(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    s = Settings()
    assert s.token is None
    assert s.database_url.startswith("sqlite+aiosqlite:///")


def test_env_values_are_parsed(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "secret-token-value")
    monkeypatch.setenv("OWNER_IDS", "12, 34")
    monkeypatch.setenv("EXECUTORS", "3")
    s = Settings()
    assert s.token == "secret-token-value"
    assert s.owner_ids == [12, 34]
    assert s.executors == 3
    assert "secret-token-value" not in repr(s)
    assert "secret-token-value" not in str(s.model_dump())


def test_env_file_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-file\nLOG_LEVEL=DEBUG\n")
    s = Settings()
    assert s.token == "from-file"
    assert s.log_level == "DEBUG"


def test_invalid_values_are_refused(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EXECUTORS", "-1")
    with pytest.raises(ValidationError):
        Settings()


def test_env_example_documents_every_setting():
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"{name.upper()}=" in example, f"{name.upper()} missing from .env.example"


CONTRADICTIONS = {
    "size": ({"default_size": 2048, "max_size": 1024}, "DEFAULT_SIZE (2048)", "MAX_SIZE (1024)"),
    "guild_share": (
        {"guild_queue_limit": 600, "global_queue_limit": 500},
        "GUILD_QUEUE_LIMIT (600)",
        "GLOBAL_QUEUE_LIMIT (500)",
    ),
    "user_over_guild": (
        {"per_user_queue_limit": 20, "guild_queue_limit": 10},
        "PER_USER_QUEUE_LIMIT (20)",
        "GUILD_QUEUE_LIMIT (10)",
    ),
    "stale": (
        {"stale_after_s": 3, "heartbeat_interval_s": 3},
        "STALE_AFTER_S (3)",
        "HEARTBEAT_INTERVAL_S (3)",
    ),
    "grace": (
        {"executor_finish_grace_s": 10, "executor_grace_s": 10},
        "EXECUTOR_FINISH_GRACE_S (10)",
        "EXECUTOR_GRACE_S (10)",
    ),
    "shard_ids_alone": ({"shard_ids": "1"}, "SHARD_IDS (1)", "SHARD_COUNT"),
    "shard_out_of_range": (
        {"shard_ids": "0,2", "shard_count": 2},
        "SHARD_IDS (0,2)",
        "SHARD_COUNT (2)",
    ),
    "backoff": (
        {"delivery_backoff_s": 900, "delivery_backoff_max_s": 600},
        "DELIVERY_BACKOFF_S (900)",
        "DELIVERY_BACKOFF_MAX_S (600)",
    ),
    "sweep": (
        {"delivery_sweep_s": 30, "delivery_lease_s": 30},
        "DELIVERY_SWEEP_S (30)",
        "DELIVERY_LEASE_S (30)",
    ),
}


def test_shard_settings_are_parsed(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHARD_COUNT", "4")
    monkeypatch.setenv("SHARD_IDS", "1, 3")
    s = Settings()
    assert (s.shard_count, s.shard_ids) == (4, [1, 3])
    monkeypatch.setenv("SHARD_IDS", "")  # `SHARD_IDS=` in .env: every shard
    assert Settings().shard_ids is None
    monkeypatch.delenv("SHARD_COUNT")
    monkeypatch.delenv("SHARD_IDS")
    assert (Settings().shard_count, Settings().shard_ids) == (None, None)


@pytest.mark.parametrize("case", sorted(CONTRADICTIONS))
def test_contradicting_settings_are_refused_naming_both(case):
    values, first, second = CONTRADICTIONS[case]
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, discord_token="tok-SECRET-9", **values)
    text = str(refused.value)
    assert first in text and second in text, text
    assert "tok-SECRET" not in text  # the other values are not quoted


def test_settings_that_agree_are_accepted():
    s = Settings(
        _env_file=None, default_size=1024, max_size=1024, per_user_queue_limit=5,
        guild_queue_limit=5, global_queue_limit=5, stale_after_s=3.5, heartbeat_interval_s=3,
    )  # fmt: skip
    assert (s.default_size, s.guild_queue_limit) == (1024, 5)


def test_run_with_contradicting_settings_stops_naming_both(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "DISCORD_TOKEN": "tok-SECRET-42",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'nst.db'}",
        "GUILD_QUEUE_LIMIT": "900",
        "GLOBAL_QUEUE_LIMIT": "500",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "GUILD_QUEUE_LIMIT (900) is larger than GLOBAL_QUEUE_LIMIT (500)" in proc.stderr
    assert "tok-SECRET" not in proc.stderr + proc.stdout
    assert not (tmp_path / "nst.db").exists()  # stopped before touching anything


def test_settings_take_defaults_and_choices_from_the_definitions() -> None:
    s = Settings(_env_file=None)
    assert (s.default_size, s.default_preset) == (SIZE.default, PRESET.default)
    assert {p.name: s.job_default(p.name) for p in JOB_PARAMS} == {
        p.name: p.default for p in JOB_PARAMS
    }
    operator = Settings(_env_file=None, default_size=256, default_preset="fast")
    assert (operator.job_default("size"), operator.job_default("preset")) == (256, "fast")
    with pytest.raises(ValueError, match="choose one of fast, standard, high"):
        Settings(_env_file=None, default_preset="ultra")
    with pytest.raises(ValueError, match="greater than or equal to 64"):
        Settings(_env_file=None, default_size=32)
