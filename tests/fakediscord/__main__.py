"""`python -m tests.fakediscord [--port 0] [--print-urls]`: run the fake for manual use.

Prints the URLs (or `export` lines with --print-urls) and serves until Ctrl-C. The /_fake/
control endpoints (control.py) let a shell drive it, e.g.:

    curl -X POST --data-binary @cat.png "$FAKE/_fake/attachments?filename=cat.png"
    curl -X POST -d '{"name":"ping","options":{"image":{"attachment":"ID"}}}' $FAKE/_fake/slash
    curl $FAKE/_fake/calls
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from .server import DEFAULT_TOKEN, FakeDiscord


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeDiscord(
        host=args.host,
        port=args.port,
        token=args.token,
        token_ttl_s=args.token_ttl,
        attachment_size_limit=args.attachment_size_limit,
        control=True,
    )
    async with fake:
        if args.print_urls:
            for key, value in fake.env().items():
                print(f"export {key}={value}")
            print(f"export FAKE={fake.http_base}")
        else:
            print(f"fakediscord REST {fake.base_url}  gateway {fake.gateway_url}")
            print(f"control: {fake.http_base}/_fake/  guild {fake.guild_id}  app {fake.app_id}")
        print("", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakediscord", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="bot token to accept")
    parser.add_argument("--token-ttl", type=float, default=900.0, help="interaction token life")
    parser.add_argument("--attachment-size-limit", type=int, default=10 * 1024 * 1024)
    parser.add_argument("--print-urls", action="store_true", help="print shell export lines")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
