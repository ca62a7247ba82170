"""Settings are typed, read from the environment, and never leak the token."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings


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


def test_run_without_token_explains_how_to_get_one(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "DISCORD_TOKEN is not set" in proc.stderr
    assert "applications.commands" in proc.stderr
