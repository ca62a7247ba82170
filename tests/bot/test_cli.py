"""The `nst-bot` command line through the real console script: `--db` placement, the guarded
`migrate base`, and start-up refusals of bad settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.store.migrate import current_revision, head_revision

NST_BOT = Path(sys.executable).with_name("nst-bot")


def nst_bot(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the console script in `cwd` (no `.env` there) with `env` added to ours."""
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DISCORD_TOKEN")}
    return subprocess.run(
        [str(NST_BOT), *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_is_accepted_before_and_after_the_subcommand(tmp_path: Path) -> None:
    # DATABASE_URL points elsewhere: only an honoured --db creates the file it names.
    elsewhere = f"sqlite:///{tmp_path}/env.db"
    for name, args in {
        "before": ["--db", f"sqlite:///{tmp_path}/before.db", "jobs"],
        "after": ["jobs", "--limit", "5", "--db", f"sqlite:///{tmp_path}/after.db"],
    }.items():
        done = nst_bot(tmp_path, *args, DATABASE_URL=elsewhere)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[:2] == ["ID", "STATUS"]
        assert current_revision(f"sqlite:///{tmp_path}/{name}.db") == head_revision()
    assert not (tmp_path / "env.db").exists()


def test_db_help_prefers_the_environment_variable(tmp_path: Path) -> None:
    for args in (["--help"], ["jobs", "--help"]):
        done = nst_bot(tmp_path, *args)
        assert done.returncode == 0
        text = " ".join(done.stdout.split())
        assert "Prefer setting DATABASE_URL" in text and "`ps`" in text


def test_migrate_base_refuses_without_yes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nst.db"
    assert nst_bot(tmp_path, "migrate", "--db", url).returncode == 0
    assert current_revision(url) == head_revision()

    for target in ("base", "-1"):
        refused = nst_bot(tmp_path, "migrate", target, "--db", url)
        assert refused.returncode == 2
        assert "--yes" in refused.stderr and "deletes data" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert current_revision(url) == head_revision()  # nothing was dropped

    done = nst_bot(tmp_path, "--db", url, "migrate", "base", "--yes")
    assert done.returncode == 0, done.stderr
    assert current_revision(url) is None


def test_contradicting_settings_stop_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    done = nst_bot(tmp_path, "jobs", MAX_SIZE="128", DEFAULT_SIZE="512", DISCORD_TOKEN="tok-123")
    assert done.returncode == 2
    assert "invalid settings" in done.stderr
    assert "MAX_SIZE" in done.stderr and "DEFAULT_SIZE" in done.stderr
    assert "Traceback" not in done.stderr and "tok-123" not in done.stderr
