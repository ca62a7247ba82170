"""Refused commands must cost the bot nothing: a user over their queue limit sends N /stylize
commands at once, each with three 20-megapixel PNGs (flat colour, ~60 KB each: tiny to send,
~60 MB each once decoded), against a real `nst-bot run` process.

Used by `bench.py` (`make bench-bot`): prints the bot process's peak RSS before and after, the
time to answer all N and how many attachment downloads the refusals caused.
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tests import badimages
from tests.bot.botproc import bot_process
from tests.bot.discord_bot.load import _wait_bot_ready
from tests.fakediscord import FakeDiscord

BIG_SIZE = (5472, 3648)  # 20.0 megapixels, a phone camera's full resolution


def flat_png(size: tuple[int, int] = BIG_SIZE, colour=(90, 140, 200)) -> bytes:
    """A large flat-colour PNG: a few tens of KB that decode to width × height × 3 bytes."""
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB (Linux /proc)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


@dataclass
class RefusalResult:
    n: int
    megapixels: float
    png_bytes: int
    before: dict[str, int]
    after: dict[str, int]
    wall_s: float
    cdn_requests: int  # downloads of the refused commands' attachments
    refused: int  # answered with the over-quota message

    def table(self) -> str:
        mib = 1024.0
        rows = [
            ("refused /stylize commands (3 attachments each)", f"{self.n}"),
            ("attachment", f"{self.megapixels:.1f} MP flat PNG, {self.png_bytes / 1000:.0f} KB"),
            ("answered with the queue-limit message", f"{self.refused}"),
            ("CDN requests for their attachments", f"{self.cdn_requests}"),
            ("bot RSS before", f"{self.before['VmRSS'] / mib:.0f} MiB"),
            ("bot peak RSS before", f"{self.before['VmHWM'] / mib:.0f} MiB"),
            ("bot RSS after", f"{self.after['VmRSS'] / mib:.0f} MiB"),
            ("bot peak RSS after", f"{self.after['VmHWM'] / mib:.0f} MiB"),
            ("time to answer all", f"{self.wall_s:.2f} s"),
        ]
        lines = ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in rows]
        return "\n".join(lines)


async def run_refusals_process(
    tmp: Path, n: int = 50, timeout_s: float = 240.0, size: tuple[int, int] = BIG_SIZE
) -> RefusalResult:
    """One user with a job queued (limit 1) sends `n` more at once; all must be refused."""
    import aiohttp

    big = flat_png(size)
    async with (
        FakeDiscord() as fake,
        bot_process(fake, tmp, EXECUTORS="0", PER_USER_QUEUE_LIMIT="1", LOG_LEVEL="WARNING") as bot,
        aiohttp.ClientSession() as http,
    ):
        await _wait_bot_ready(fake, http, bot.web_base)
        small = badimages.png(badimages.photo())
        user = fake.add_user("eager")
        first = await fake.slash(
            "stylize",
            {
                "content": fake.add_attachment(small, "c.png", "image/png"),
                "style": fake.add_attachment(small, "s.png", "image/png"),
            },
            user=user,
        )
        await fake.wait_until(
            lambda: (m := fake.original(first)) is not None and "queued" in m.content, timeout=30
        )
        before = memory_kib(bot.proc.pid)

        def options(i: int) -> dict:
            return {
                name: fake.add_attachment(big, f"big-{i}-{name}.png", "image/png")
                for name in ("content", "style", "style2")
            }

        start = time.perf_counter()
        iids = await asyncio.gather(
            *(fake.slash("stylize", options(i), user=user) for i in range(n))
        )
        await fake.wait_until(
            lambda: all(fake.followups(i) for i in iids),
            timeout=timeout_s,
            what="every refused command to be answered",
        )
        wall = time.perf_counter() - start
        after = memory_kib(bot.proc.pid)
        refused = sum(1 for i in iids if "the limit is 1" in fake.followups(i)[-1].content)
        cdn = sum(1 for c in fake.calls if c.is_cdn and "/big-" in c.path)
    return RefusalResult(n, size[0] * size[1] / 1e6, len(big), before, after, wall, cdn, refused)
