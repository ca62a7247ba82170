"""The web face lives in the Discord process: importing it, mounting it and decoding an upload
the way it does must not import torch (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CODE = """
import asyncio, json, sys
from bot.settings import Settings
from bot.store import Store, migrate
from bot.web import create_app
from bot.discord_bot.validation import decode_all
from tests import badimages

url = "sqlite+aiosqlite:///" + sys.argv[1] + "/l.db"
migrate(url)

async def main():
    settings = Settings(_env_file=None, database_url=url, data_dir=sys.argv[1])
    store = await Store.from_settings(settings)
    app = create_app(store, settings=settings)
    assert any(r.resource.canonical == "/" for r in app.router.routes())
    await asyncio.to_thread(decode_all, [("content", "p.png", badimages.png(badimages.photo()))],
                            max_pixels=10**6)
    await store.close()

asyncio.run(main())
print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))
"""


def test_the_web_face_never_imports_torch(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(tmp_path)], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "jinja2" in loaded and "aiohttp" in loaded
    assert not loaded & {"torch", "torchvision"}, sorted(loaded & {"torch", "torchvision"})
