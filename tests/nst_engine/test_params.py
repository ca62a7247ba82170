"""The job parameters are defined once (nst_engine.params) and everything else derives from it:
the store's validation, the slash-command options, the settings and the CLI."""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot.discord_bot.options import job_options
from bot.store import JobParams, QueueRefused, Store, UserSettings, migrate
from bot.store.models import JobRow
from nst_engine import params as job_params
from nst_engine.cli import _parser
from nst_engine.options import StylizeOptions
from nst_engine.params import INIT, JOB_PARAMS, PRESET, SEED, SIZE, STYLE_STRENGTH, Param
from nst_engine.presets import PRESETS
from tests.bot.store.helpers import blob

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for root in ("bot", "nst_engine") for p in (REPO / root).rglob("*.py"))
DEFINITIONS = REPO / "nst_engine" / "params.py"
BOUND_WORDS = ("ge", "gt", "le", "lt")  # pydantic's Field(...) limits
# A new parameter, to show that one definition is enough for every consumer.
CONTRAST = Param(
    "contrast",
    float,
    1.0,
    "Contrast of the result",
    "contrast",
    minimum=0.5,
    maximum=2.0,
    slash=True,
)


def test_values_are_checked_against_the_definition() -> None:
    assert STYLE_STRENGTH.problem(1) is None and STYLE_STRENGTH.problem(10.0) is None
    for bad in (0.0, 10.5, math.nan, math.inf, "2", True):
        assert "strength" in (STYLE_STRENGTH.problem(bad) or ""), bad
    assert "at least 64 px" in (SIZE.problem(10) or "")
    assert SIZE.problem(64) is None and SIZE.problem(64.0) is not None  # whole pixels only
    assert "choose one of fast, standard, high" in (PRESET.problem("ultra") or "")
    assert SEED.problem(None) is None and SEED.problem(7) is None
    assert SIZE.problem(None) is not None  # only a nullable parameter takes None
    assert STYLE_STRENGTH.clamp(40.0) == 10.0 and STYLE_STRENGTH.clamp(0.01) == 0.1
    assert STYLE_STRENGTH.span == (STYLE_STRENGTH.minimum, STYLE_STRENGTH.maximum)
    with pytest.raises(ValueError, match="size"):
        _ = SIZE.span  # no maximum of its own (MAX_SIZE caps it)


def test_the_store_and_the_engine_accept_the_same_values() -> None:
    # The drift issue 10 found: the store took init="style" (the engine refuses it) and
    # refused "blend" (which the engine takes).
    assert PRESET.choices == tuple(PRESETS)
    for init in INIT.choices:
        assert JobParams(init=init).problems() == []
        StylizeOptions(init=init)  # the engine's own options take it too
    assert "init" in JobParams(init="style").problems()[0]
    with pytest.raises(ValueError, match="init"):
        StylizeOptions(init="style")
    for p in JOB_PARAMS:  # and the same defaults
        assert getattr(JobParams(), p.name) == getattr(StylizeOptions(), p.name) == p.default


def test_every_parameter_has_its_storage() -> None:
    """A new definition needs a JobParams field and a jobs column (and, when users can save a
    default for it, a UserSettings field): this fails until they exist."""
    job_fields = {f.name for f in dataclasses.fields(JobParams)}
    saved_fields = {f.name for f in dataclasses.fields(UserSettings)}
    for p in JOB_PARAMS:
        assert p.name in job_fields and p.name in JobRow.__table__.columns, p.name
        assert not p.saved_description or p.name in saved_fields, p.name


async def test_the_store_refuses_by_the_current_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    migrate(url)
    store = await Store.open(url, per_user_queue_limit=3, global_queue_limit=50)
    styles = [(blob("style"), 1.0)]
    try:
        await store.submit(1, None, None, blob("c1"), styles, JobParams(size=64, seed=-1))
        no_negative_seed = tuple(
            dataclasses.replace(p, minimum=0) if p is SEED else p for p in JOB_PARAMS
        )
        monkeypatch.setattr(job_params, "JOB_PARAMS", no_negative_seed)
        with pytest.raises(QueueRefused) as refused:
            await store.submit(2, None, None, blob("c2"), styles, JobParams(size=64, seed=-1))
        assert refused.value.code == "bad_params" and "seed" in refused.value.message
    finally:
        await store.close()


def test_a_new_parameter_reaches_the_cli_the_validation_and_the_slash_payload() -> None:
    defined = (*JOB_PARAMS, CONTRAST)
    parser = _parser({"weights": "caffe", "precision": "auto"}, defined)
    args = parser.parse_args(["c.jpg", "s.jpg", "-o", "o.png", "--contrast", "1.5"])
    assert args.contrast == 1.5 and args.size is None
    with pytest.raises(SystemExit):
        parser.parse_args(["c.jpg", "s.jpg", "-o", "o.png", "--contrast", "3"])

    assert "contrast" in job_params.problems({"contrast": 3.0}, defined)[0]
    assert job_params.problems({"contrast": 1.5}, defined) == []

    async def paint(interaction: discord.Interaction, content: discord.Attachment, **options):
        pass

    command = app_commands.Command(
        name="paint", description="test", callback=job_options(params=defined)(paint)
    )
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    options = {o["name"]: o for o in command.to_dict(tree)["options"]}
    assert list(options) == ["content", *(p.option_name for p in defined if p.slash)]
    assert options["contrast"] == {
        "name": "contrast",
        "description": "Contrast of the result",
        "type": discord.AppCommandOptionType.number.value,
        "required": False,
        "min_value": 0.5,
        "max_value": 2.0,
    }


def _copies(tree: ast.AST) -> list[str]:
    """The facts `nst_engine.params` defines, written out again in one module: two or more of
    a parameter's choices side by side; one of its bounds compared with, clamped to, or set
    as a limit (Field(ge=...), Range[...]) of something named after it; its range in text."""
    choices = [set(p.choices) for p in JOB_PARAMS if p.choices]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            words = {e.value for e in node.elts if isinstance(e, ast.Constant)}
            if any(len({w for w in words if isinstance(w, str)} & c) >= 2 for c in choices):
                found.append(f"line {node.lineno}: choices {ast.unparse(node)}")
        for limit in _limits(node):
            found += [f"line {node.lineno}: {why}" for why in _bounds_near_names(node, limit)]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [f"line {node.lineno}: range in {node.value!r}" for _ in _ranges(node.value)]
    return found


def _limits(node: ast.AST) -> list[ast.AST]:
    """The parts of `node` that would hold a limit: a comparison, a min()/max() clamp, and in
    an assignment a pydantic bound (ge=...) or a discord.py Range[...]."""
    if isinstance(node, ast.Compare):
        return [node]
    if isinstance(node, ast.Call) and ast.unparse(node.func) in ("min", "max"):
        return [node]
    if not isinstance(node, ast.Assign | ast.AnnAssign):
        return []
    bounds = [n for n in ast.walk(node) if isinstance(n, ast.keyword) and n.arg in BOUND_WORDS]
    ranges = [n for n in ast.walk(node) if isinstance(n, ast.Subscript)]
    return [*bounds, *(n for n in ranges if ast.unparse(n.value).endswith("Range"))]


def _bounds_near_names(where: ast.AST, limit: ast.AST) -> list[str]:
    """A parameter's bound inside `limit`, with the parameter named in `where`."""
    text = ast.unparse(where)
    numbers = {
        c.value
        for c in ast.walk(limit)
        if isinstance(c, ast.Constant)
        and isinstance(c.value, int | float)
        and not isinstance(c.value, bool)
    }
    return [
        f"{p.name} bound {bound:g} in {text[:70]!r}"
        for p in JOB_PARAMS
        for bound in (p.minimum, p.maximum)
        if bound is not None
        and bound in numbers
        and re.search(rf"({p.name}|{p.option_name})", text, re.IGNORECASE)
    ]


def _ranges(text: str) -> list[str]:
    spans = [
        f"{p.minimum:g}{dash}{p.maximum:g}"
        for p in JOB_PARAMS
        if p.minimum is not None and p.maximum is not None
        for dash in ("-", "–", " to ")
    ]
    return [span for span in spans if span in text]


def test_no_other_module_defines_the_parameters() -> None:
    copies = {
        str(path.relative_to(REPO)): found
        for path in SOURCES
        if path != DEFINITIONS and (found := _copies(ast.parse(path.read_text())))
    }
    assert copies == {}


def test_the_scan_finds_copies() -> None:
    # The forms the scan looks for, as the code had them before issue 10.
    old = """
PRESETS = ("fast", "standard", "high")
INITS = ("content", "noise", "style")
default_preset: Literal["fast", "standard", "high"] = "standard"
default_size: int = Field(512, ge=64)
StrengthOption = app_commands.Range[float, 0.1, 10.0]
if params.size < 64:
    pass
p.add_argument("--strength", type=float, help="style strength (0.1-10)")
stylize(content, size=max(64, job.size))
"""
    lines = {int(why.split(":")[0].removeprefix("line ")) for why in _copies(ast.parse(old))}
    assert lines == {2, 3, 4, 5, 6, 7, 9, 10}
    innocent = "if len(parts) > 64:\n    pass\nx = ('content', 'style')\nJobParams(size=64)"
    assert _copies(ast.parse(innocent)) == []
