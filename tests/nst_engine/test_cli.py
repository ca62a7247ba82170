"""The `nst` command end to end, in a real subprocess."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from nst_engine.cli import _parser, _split_style
from nst_engine.params import JOB_PARAMS


def _nst(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nst_engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )


def test_cli_end_to_end(tmp_path: Path, fixture_images: Path):
    out = tmp_path / "out.png"
    proc = _nst(
        str(fixture_images / "tubingen.jpg"),
        str(fixture_images / "starry_night.jpg"),
        f"{fixture_images / 'the_scream.jpg'}:0.5",
        "-o", str(out), "--size", "64", "--preset", "fast", "--seed", "1",
        "--save-every", "10", "--threads", "1", "--precision", "fp32",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    img = Image.open(out)
    assert img.format == "PNG" and img.size == (64, 48)
    assert (tmp_path / "out-step10.png").is_file()
    assert "steps" in proc.stderr and "scale 1/1" in proc.stderr  # progress bar and summary
    assert "on cpu, fp32)" in proc.stderr  # the precision that ran, as asked


def test_cli_bad_image_exits_2_with_readable_message(tmp_path: Path, fixture_images: Path):
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image")
    proc = _nst(str(fake), str(fixture_images / "starry_night.jpg"), "-o", str(tmp_path / "o.png"))
    assert proc.returncode == 2
    assert "not an image" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.png").exists()

    proc = _nst(str(tmp_path / "missing.jpg"), str(fake), "-o", str(tmp_path / "o.png"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr


def test_style_weight_parsing(tmp_path: Path):
    assert _split_style("a.jpg") == ("a.jpg", 1.0)
    assert _split_style("a.jpg:0.25") == ("a.jpg", 0.25)
    odd = tmp_path / "x:2"
    odd.write_bytes(b"")
    assert _split_style(str(odd)) == (str(odd), 1.0)


def test_job_options_come_from_the_definitions(capsys):
    parser = _parser({"weights": "caffe", "precision": "auto"})
    flags = {a.dest: a for a in parser._actions if isinstance(a, argparse.Action)}
    for p in JOB_PARAMS:
        assert f"--{p.option_name.replace('_', '-')}" in flags[p.name].option_strings
        assert tuple(flags[p.name].choices or ()) == p.choices
    files = ["c.jpg", "s.jpg", "-o", "o.png"]
    args = parser.parse_args([*files, "--strength", "2", "--init", "blend"])
    given = (args.style_strength, args.init, args.size, args.preserve_colors)
    assert given == (2.0, "blend", None, None)  # None: not given, the engine's default
    for bad in (["--strength", "11"], ["--size", "32"], ["--size", "big"], ["--init", "style"]):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args([*files, *bad])
        assert exited.value.code == 2
        assert bad[0] in capsys.readouterr().err  # argparse names the option it refused
