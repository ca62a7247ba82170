"""`make bench-bot`: defer latency and event-loop lag under a burst of /stylize interactions,
and what refused commands cost the bot.

    python -m tests.bot.discord_bot.bench [--n 500] [--mode process|inprocess] [--refused 50]

`process` (default) runs the real `nst-bot run` (no executors) against the fake Discord in
this process: the bot has its event loop to itself, and its lag comes from the bot's own
`nst_event_loop_lag_seconds` histogram (bucket upper bounds). `inprocess` runs bot and fake on
one loop (exact lag samples, but they include the fake's work: an upper bound).
`--refused N` (0 = skip): N over-quota /stylize commands at once, each with three
20-megapixel PNGs, against a real `nst-bot run`: its peak RSS before and after, the time to
answer them all and the downloads they caused (refusals are checked before any download).
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import tempfile
from pathlib import Path

from tests.bot.discord_bot.load import run_load, run_load_process
from tests.bot.discord_bot.refusal_load import run_refusals_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="simultaneous interactions")
    parser.add_argument("--mode", choices=("process", "inprocess", "both"), default="both")
    parser.add_argument("--refused", type=int, default=50, help="refused commands (0: skip)")
    parser.add_argument("--only-refused", action="store_true", help="skip the burst sections")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    title = "refused commands" if args.only_refused else f"{args.n} simultaneous /stylize"
    print(f"## bench-bot: {title}\n")
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s), SQLite store, fake Discord on loopback, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    modes = ("process", "inprocess") if args.mode == "both" else (args.mode,)
    if args.only_refused:
        modes = ()
    for mode in modes:
        runner = run_load_process if mode == "process" else run_load
        with tempfile.TemporaryDirectory(prefix="nst-bench-bot-") as tmp:
            result = asyncio.run(runner(Path(tmp), n=args.n))
        title = (
            "bot in its own process (`nst-bot run`)"
            if mode == "process"
            else "bot and fake on one event loop"
        )
        print(f"### {title}\n")
        print(result.table())
        if result.errors:
            print(f"\nrefusals: {sorted(set(result.errors))}")
        print()
    if args.refused > 0:
        _refused_section(args.refused)


def _refused_section(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="nst-bench-refused-") as tmp:
        result = asyncio.run(run_refusals_process(Path(tmp), n=n))
    print(f"### {n} refused over-quota /stylize commands, 20-megapixel attachments\n")
    print(result.table())
    print()


if __name__ == "__main__":
    main()
