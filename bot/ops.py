"""Operator commands of `nst-bot` that need no Discord: submit, jobs, result, purge, forget-user.

Each one migrates the database first (cheap when already at head), so they work on a fresh
database file. Exit codes: 0 ok, 1 not found / not finished, 2 bad input, 3 refused by the queue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.settings import Settings
from bot.store import (
    PRESETS,
    DeliveryState,
    ImageBlob,
    Job,
    JobParams,
    QueueRefused,
    Store,
    migrate,
)
from bot.store.types import MAX_STRENGTH, MIN_STRENGTH

Handler = Callable[[argparse.Namespace, Settings], int]


def add_subcommands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], make_handler: Callable[[str], Handler]
) -> None:
    """Register the operator subcommands on the `nst-bot` parser."""
    p = sub.add_parser("submit", help="queue a style-transfer job and print its id")
    p.add_argument("content", type=Path, help="content image file")
    p.add_argument("styles", type=Path, nargs="+", help="one or more style image files")
    p.add_argument("--user", type=int, default=0, help="owner user id (default 0: operator)")
    p.add_argument("--guild", type=int, default=None)
    p.add_argument("--channel", type=int, default=None)
    p.add_argument("--size", type=int, default=None, help="long side of the output in px")
    p.add_argument("--preset", choices=PRESETS, default=None)
    p.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help=f"style strength ({MIN_STRENGTH:g}-{MAX_STRENGTH:g})",
    )
    p.add_argument("--weights", default=None, help="comma-separated weights, one per style")
    p.add_argument("--preserve-colors", action="store_true")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--private", action="store_true")
    p.set_defaults(handler=make_handler("submit"))

    p = sub.add_parser("jobs", help="list recent jobs with status and progress")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--user", type=int, default=None)
    p.add_argument("--status", default=None)
    p.set_defaults(handler=make_handler("jobs"))

    p = sub.add_parser("result", help="write a finished job's image")
    p.add_argument("job_id", type=int)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.set_defaults(handler=make_handler("result"))

    p = sub.add_parser("purge", help="delete jobs and images older than the retention period")
    p.add_argument("--days", type=float, default=None, help="default: RETENTION_DAYS")
    p.set_defaults(handler=make_handler("purge"))

    p = sub.add_parser("forget-user", help="delete every job, image and setting of one user")
    p.add_argument("user_id", type=int)
    p.set_defaults(handler=make_handler("forget_user"))


@contextlib.asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[Store]:
    """The migrated store, closed on exit."""
    await asyncio.to_thread(migrate, settings.database_url)
    store = await Store.from_settings(settings)
    store.cooldown_s = 0.0  # the anti-spam cooldown is for Discord users, not operators
    try:
        yield store
    finally:
        await store.close()


def _read_image(path: Path, settings: Settings) -> ImageBlob:
    # Pillow-only validation, exactly as the bot does it for uploads.
    from PIL import Image

    from nst_engine.images import decode_image

    data = path.read_bytes()
    img = decode_image(data, max_pixels=settings.max_image_pixels)
    with Image.open(io.BytesIO(data)) as raw:
        fmt = (raw.format or "unknown").lower()
    return ImageBlob(data=data, fmt=fmt, width=img.width, height=img.height)


def submit(args: argparse.Namespace, settings: Settings) -> int:
    """Queue a job from image files; prints the job id."""
    from nst_engine.errors import ImageError

    try:
        content = _read_image(args.content, settings)
        styles = [_read_image(p, settings) for p in args.styles]
    except OSError as exc:
        print(f"error: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except ImageError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    weights = [1.0] * len(styles)
    if args.weights:
        try:
            weights = [float(w) for w in args.weights.split(",")]
        except ValueError:
            weights = []
        if len(weights) != len(styles):
            print(f"error: --weights needs {len(styles)} comma-separated numbers", file=sys.stderr)
            return 2
    params = JobParams(
        size=args.size or settings.default_size,
        preset=args.preset or settings.default_preset,
        style_strength=args.strength,
        preserve_colors=args.preserve_colors,
        seed=args.seed,
        private=args.private,
    )

    async def run() -> int:
        async with _opened(settings) as store:
            try:
                job = await store.submit(
                    args.user,
                    args.guild,
                    args.channel,
                    content,
                    list(zip(styles, weights, strict=True)),
                    params,
                )
            except QueueRefused as exc:
                print(f"refused ({exc.code}): {exc.message}", file=sys.stderr)
                return 3
        print(job.id)
        return 0

    return asyncio.run(run())


def _age(when: datetime | None) -> str:
    if when is None:
        return "-"
    seconds = int((datetime.now(UTC) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _progress(job: Job) -> str:
    p = job.progress
    if job.status == "running" and p.total:
        eta = f" eta {p.eta_s:.0f}s" if p.eta_s is not None else ""
        return f"{100 * p.step // p.total}% ({p.step}/{p.total}){eta}"
    if job.status == "failed":
        return f"{job.error_code}: {job.error_message}"
    if job.status == "succeeded" and job.elapsed_s is not None:
        return f"took {job.elapsed_s:.1f}s"
    return ""


def _delivery(job: Job) -> str:
    """The delivery column: state, with the attempt number while being retried."""
    d = job.delivery
    if d.state is None:
        return "-"
    if d.state in (DeliveryState.PENDING, DeliveryState.DELIVERING) and d.attempts:
        return f"{d.state.value}#{d.attempts}"
    return d.state.value


def _details(job: Job) -> str:
    """Progress or outcome, then why delivery failed (the last error of a retried or
    undeliverable delivery)."""
    details = _progress(job)
    if job.delivery.error and job.delivery.state is not DeliveryState.DELIVERED:
        prefix = f"{details}; " if details else ""
        details = f"{prefix}delivery: {job.delivery.error}"
    return details


def jobs(args: argparse.Namespace, settings: Settings) -> int:
    """Print recent jobs, newest first."""

    async def run() -> list[Job]:
        async with _opened(settings) as store:
            return await store.recent_jobs(args.limit, owner_id=args.user, status=args.status)

    rows = asyncio.run(run())
    print(
        f"{'ID':>6}  {'STATUS':<9}  {'USER':>20}  {'SIZE':>5}  {'PRESET':<8}  {'AGE':>4}  "
        f"{'DELIVERY':<13}  DETAILS"
    )
    for job in rows:
        print(
            f"{job.id:>6}  {job.status.value:<9}  {job.owner_id:>20}  {job.params.size:>5}  "
            f"{job.params.preset:<8}  {_age(job.created_at):>4}  {_delivery(job):<13}  "
            f"{_details(job)}"
        )
    return 0


def result(args: argparse.Namespace, settings: Settings) -> int:
    """Write a finished job's result image to a file."""

    async def run() -> int:
        async with _opened(settings) as store:
            job = await store.get_job(args.job_id)
            if job is None:
                print(f"error: there is no job #{args.job_id}", file=sys.stderr)
                return 1
            if job.result_sha is None:
                why = f": {job.error_message}" if job.error_message else ""
                print(f"error: job #{job.id} is {job.status.value}{why}", file=sys.stderr)
                return 1
            image = await store.get_image(job.result_sha)
        if image is None:
            print(f"error: the result of job #{args.job_id} was purged", file=sys.stderr)
            return 1
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_bytes(image.data)
        print(f"wrote {args.output} ({image.width}x{image.height}, {image.size_bytes} bytes)")
        return 0

    return asyncio.run(run())


def purge(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the retention period (and drop expired interaction tokens)."""
    days = args.days if args.days is not None else settings.retention_days

    async def run() -> int:
        async with _opened(settings) as store:
            done = await store.purge(days)
            tokens = await store.expire_interaction_tokens()
        print(f"purged {done.jobs} job(s) and {done.images} image(s) older than {days:g} days")
        if tokens:
            print(f"expired {tokens} interaction token(s)")
        return 0

    return asyncio.run(run())


def forget_user(args: argparse.Namespace, settings: Settings) -> int:
    """Delete everything stored about one user."""

    async def run() -> int:
        async with _opened(settings) as store:
            done = await store.forget_user(args.user_id)
        print(f"deleted {done.jobs} job(s) and {done.images} image(s) of user {args.user_id}")
        return 0

    return asyncio.run(run())
