"""`nst CONTENT STYLE [STYLE[:WEIGHT] ...] -o OUT`: style transfer from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nst_engine.errors import ImageError, NSTError
from nst_engine.images import decode_image
from nst_engine.install import INSTALL_HINT, missing_packages
from nst_engine.options import StylizeOptions
from nst_engine.params import JOB_PARAMS, Param
from nst_engine.precision import BF16, PRECISIONS

if TYPE_CHECKING:
    from PIL import Image

    from nst_engine.results import Progress


# How a run computes (not job parameters): `stylize` keywords the CLI passes when given.
RUN_OPTIONS = ("device", "weights", "optimizer", "style_scale", "precision")


def _library_defaults() -> dict[str, object]:
    """The engine's defaults for how a run computes (weights, precision), for the help."""
    return {
        f.name: f.default
        for f in dataclasses.fields(StylizeOptions)
        if f.default is not dataclasses.MISSING
    }


def _split_style(spec: str) -> tuple[str, float]:
    """'path' or 'path:weight' (a path that itself contains ':' still works)."""
    path, sep, weight = spec.rpartition(":")
    if sep and path and not Path(spec).exists():
        try:
            value = float(weight)
        except ValueError:
            return spec, 1.0
        if value <= 0:
            raise ValueError(f"style weight must be positive in {spec!r}")
        return path, value
    return spec, 1.0


def _checked(param: Param[Any]) -> Callable[[str], object]:
    """An argparse `type` that parses the value and refuses it as the store would."""

    def convert(text: str) -> object:
        try:
            value = param.type(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a valid {param.label}: {text!r}") from None
        if problem := param.problem(value):
            raise argparse.ArgumentTypeError(problem)
        return value

    convert.__name__ = param.label  # argparse names the type in its own messages
    return convert


def _help(param: Param[Any]) -> str:
    lo, hi = param.minimum, param.maximum
    span = f", {lo:g}-{hi:g}" if lo is not None and hi is not None else ""
    span = f", at least {lo:g}" if lo is not None and hi is None else span
    shown = param.default is not None and param.type is not bool
    default = f" ({param.default})" if shown else ""
    return f"{param.description[0].lower()}{param.description[1:]}{span}{default}"


def add_job_arguments(
    p: argparse.ArgumentParser, params: Iterable[Param[Any]] = JOB_PARAMS
) -> None:
    """One option per job parameter (`nst_engine.params`): flag, type, range, choices, help.
    Each defaults to None (not given); values outside a range are refused by argparse."""
    for param in params:
        flags = [f"--{param.option_name.replace('_', '-')}"]
        if param.short_flag:
            flags.insert(0, param.short_flag)
        if param.type is bool:
            p.add_argument(
                *flags, dest=param.name, action="store_true", default=None, help=_help(param)
            )
        elif param.choices:
            p.add_argument(*flags, dest=param.name, choices=param.choices, help=_help(param))
        else:
            p.add_argument(
                *flags,
                dest=param.name,
                type=_checked(param),
                metavar=param.option_name.upper(),
                help=_help(param),
            )


def _parser(
    defaults: dict[str, object], params: Iterable[Param[Any]] = JOB_PARAMS
) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nst",
        description="Neural style transfer (Gatys et al.): VGG19 features, L-BFGS on the pixels.",
    )
    p.add_argument("content", help="content image")
    p.add_argument("styles", nargs="+", metavar="STYLE[:WEIGHT]", help="style image(s), weighted")
    p.add_argument("-o", "--output", required=True, help="output file (PNG)")
    add_job_arguments(p, params)
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps (auto)")
    p.add_argument(
        "--weights", help=f"caffe, torchvision or a state-dict path ({defaults['weights']})"
    )
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), help="(lbfgs)")
    p.add_argument("--style-scale", type=float, help="style size relative to the output (1.0)")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        help=f"VGG passes in bf16 or fp32; auto = bf16 where native ({defaults['precision']})",
    )
    p.add_argument(
        "--bf16", action="store_const", const=BF16, dest="precision", help="= --precision bf16"
    )
    p.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="N",
        help="also save the image every N steps as OUT-stepN.png",
    )
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _read(path: str) -> Image.Image:
    data = Path(path).read_bytes()
    try:
        return decode_image(data)
    except ImageError as exc:
        raise ImageError(exc.code, f"{path}: {exc.message}") from None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input, 1 engine failure)."""
    if missing := missing_packages(load=True):
        print(f"nst: the engine is not installed here: {INSTALL_HINT}", file=sys.stderr)
        for line in missing:
            print(f"  ({line})", file=sys.stderr)
        return 2
    defaults = _library_defaults()
    args = _parser(defaults).parse_args(argv)
    try:
        content = _read(args.content)
        styles = []
        for spec in args.styles:
            path, weight = _split_style(spec)
            styles.append((_read(path), weight))
    except ImageError as exc:
        print(f"nst: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"nst: cannot read {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"nst: {exc}", file=sys.stderr)
        return 2

    import torch
    from tqdm import tqdm

    from nst_engine.transfer import stylize

    if args.threads:
        torch.set_num_threads(args.threads)
    names = (*(p.name for p in JOB_PARAMS), *RUN_OPTIONS)
    kwargs = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    out = Path(args.output)
    bar = None if args.quiet else tqdm(total=1, unit="step", dynamic_ncols=True, file=sys.stderr)

    def on_progress(p: Progress) -> None:
        if p.preview is not None:
            p.preview.save(out.with_name(f"{out.stem}-step{p.step}.png"))
        if bar is not None:
            bar.total = p.total_steps
            bar.n = p.step
            eta = f"{p.eta_s:.0f}s" if p.eta_s is not None else "?"
            bar.set_postfix_str(f"scale {p.scale}/{p.scales} loss {p.loss:.4g} eta {eta}")

    try:
        result = stylize(
            content, styles, callback=on_progress, preview_every=max(0, args.save_every), **kwargs
        )
    except (ValueError, NSTError) as exc:
        if bar is not None:
            bar.close()
        print(f"nst: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    except KeyboardInterrupt:
        return 130
    if bar is not None:
        bar.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    result.image.save(out, format="PNG" if out.suffix.lower() in ("", ".png") else None)
    for note in result.notes:
        print(f"nst: note: {note}", file=sys.stderr)
    if not args.quiet:
        w, h = result.image.size
        print(
            f"wrote {out} ({w}x{h}, {result.steps} steps, {result.elapsed_s:.1f}s on "
            f"{result.device}, {result.precision})",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
