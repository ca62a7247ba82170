"""Operator commands through the real `nst-bot` console script, on a real SQLite file."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from bot.store import Store

ROOT = Path(__file__).resolve().parents[2]
NST_BOT = Path(sys.executable).with_name("nst-bot")


def nst_bot(db: str, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NST_BOT), "--db", db, *map(str, args)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _run_job(url: str, job_id: int, result: bytes) -> None:
    store = await Store.open(url)
    try:
        claimed = await store.claim("ops-test")
        assert claimed is not None and claimed.job.id == job_id
        assert await store.complete(job_id, "ops-test", result, 2, 1, 0.5)
    finally:
        await store.close()


def test_submit_jobs_result_purge_forget(tmp_path: Path, fixture_images: Path) -> None:
    db = f"sqlite:///{tmp_path}/db/ops.db"  # plain sqlite URL and a missing folder are fine
    content, style = fixture_images / "tubingen.jpg", fixture_images / "starry_night.jpg"
    done = nst_bot(db, "submit", content, style, "--user", "42", "--size", "64", "--preset", "fast")
    assert done.returncode == 0, done.stderr
    job_id = int(done.stdout.strip())

    listing = nst_bot(db, "jobs")
    assert listing.returncode == 0
    assert any(
        line.split()[:3] == [str(job_id), "queued", "42"] for line in listing.stdout.splitlines()
    )

    out = tmp_path / "out.png"
    early = nst_bot(db, "result", str(job_id), "-o", out)
    assert early.returncode == 1 and "queued" in early.stderr and not out.exists()

    png = tmp_path / "r.png"
    Image.new("RGB", (2, 1), (255, 0, 0)).save(png)
    asyncio.run(_run_job(f"sqlite+aiosqlite:///{tmp_path}/db/ops.db", job_id, png.read_bytes()))
    done = nst_bot(db, "result", str(job_id), "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == png.read_bytes()
    assert "succeeded" in nst_bot(db, "jobs", "--user", "42").stdout

    assert "purged 0 job(s)" in nst_bot(db, "purge").stdout
    forgot = nst_bot(db, "forget-user", "42")
    assert forgot.returncode == 0 and "deleted 1 job(s)" in forgot.stdout
    assert nst_bot(db, "result", str(job_id), "-o", out).returncode == 1


def test_submit_refuses_bad_input_clearly(tmp_path: Path, fixture_images: Path) -> None:
    db = f"sqlite:///{tmp_path}/ops.db"
    style = fixture_images / "the_scream.jpg"
    text_file = tmp_path / "notes.png"
    text_file.write_text("definitely not an image\n")
    done = nst_bot(db, "submit", text_file, style)
    assert done.returncode == 2 and "not an image" in done.stderr
    assert "Traceback" not in done.stderr
    missing = nst_bot(db, "submit", tmp_path / "nope.jpg", style)
    assert missing.returncode == 2 and "nope.jpg" in missing.stderr
    weights = nst_bot(db, "submit", style, style, "--weights", "1,2")
    assert weights.returncode == 2 and "--weights" in weights.stderr
    strength = nst_bot(db, "submit", style, style, "--strength", "99")
    assert strength.returncode == 3 and "bad_params" in strength.stderr


def test_queue_cap_refusal_from_cli(tmp_path: Path, fixture_images: Path) -> None:
    db = f"sqlite:///{tmp_path}/ops.db"
    args = ["submit", fixture_images / "shipwreck.jpg", fixture_images / "golden_gate.jpg"]
    for _ in range(2):
        assert nst_bot(db, *args, "--user", "5", PER_USER_QUEUE_LIMIT="2").returncode == 0
    refused = nst_bot(db, *args, "--user", "5", PER_USER_QUEUE_LIMIT="2")
    assert refused.returncode == 3 and "user_limit" in refused.stderr


def test_migrate_command_up_and_down(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path}/m/mig.db"
    assert nst_bot(db, "migrate").returncode == 0
    assert (tmp_path / "m" / "mig.db").exists()
    listing = nst_bot(db, "jobs")
    assert listing.returncode == 0 and listing.stdout.startswith("    ID")
    assert nst_bot(db, "migrate", "base").returncode == 2  # drops every table: needs --yes
    assert nst_bot(db, "migrate", "base", "--yes").returncode == 0
    assert nst_bot(db, "migrate", "head").returncode == 0


async def _undeliverable(url: str, job_id: int, result: bytes) -> None:
    await _run_job(url, job_id, result)
    store = await Store.open(url)
    try:
        assert await store.lease_delivery(job_id, "bot-test") is not None
        assert await store.delivery_failed(
            job_id, "bot-test", reason="403 Missing Access in channel 7", retry_in_s=None
        )
    finally:
        await store.close()


def test_jobs_shows_delivery_state_and_why_it_failed(tmp_path: Path, fixture_images: Path) -> None:
    db = f"sqlite:///{tmp_path}/ops.db"
    content, style = fixture_images / "tubingen.jpg", fixture_images / "starry_night.jpg"
    ids = []
    for _ in range(2):
        done = nst_bot(db, "submit", content, style, "--user", "42", "--size", "64")
        assert done.returncode == 0, done.stderr
        ids.append(int(done.stdout.strip()))
    png = tmp_path / "r.png"
    Image.new("RGB", (2, 1), (0, 0, 255)).save(png)
    asyncio.run(_undeliverable(f"sqlite+aiosqlite:///{tmp_path}/ops.db", ids[0], png.read_bytes()))

    listing = nst_bot(db, "jobs")
    assert listing.returncode == 0, listing.stderr
    lines = {int(line.split()[0]): line for line in listing.stdout.splitlines()[1:]}
    failed, queued = lines[ids[0]], lines[ids[1]]
    assert failed.split()[1] == "succeeded" and " undeliverable " in failed
    assert "delivery: 403 Missing Access in channel 7" in failed
    assert queued.split()[1] == "queued" and " - " in queued  # not finished: no delivery yet
