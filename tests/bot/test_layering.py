"""Import layering, checked in fresh interpreters: the Discord process never imports torch,
the store imports neither torch nor discord, the engine neither discord nor a database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def loaded_after(*modules: str) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {list(modules)!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("modules", "forbidden"),
    [
        (
            (
                "bot.runner",
                "bot.discord_bot",
                "bot.discord_bot.cogs",
                "bot.web",
                "bot.executor.supervisor",
            ),
            {"torch"},
        ),
        (("bot.store",), {"torch", "discord"}),
        (("nst_engine", "nst_engine.images", "nst_engine.errors"), {"discord", "sqlalchemy"}),
    ],
)
def test_layering(modules, forbidden):
    loaded = loaded_after(*modules)
    assert modules[0].split(".")[0] in loaded
    assert not loaded & forbidden, f"{modules} pulled in {loaded & forbidden}"


def test_engine_transfer_module_pulls_neither_discord_nor_database():
    loaded = loaded_after("nst_engine.transfer")
    assert "torch" in loaded  # the check can see torch at all
    assert not loaded & {"discord", "sqlalchemy", "aiosqlite"}
