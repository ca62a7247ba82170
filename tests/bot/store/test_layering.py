"""The store must stay importable without torch, discord.py or Pillow."""

from __future__ import annotations

import subprocess
import sys


def test_store_imports_no_torch_discord_or_pillow() -> None:
    code = (
        "import sys, bot.store, bot.store.bench\n"
        "bad = sorted(m for m in ('torch', 'discord', 'PIL') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
