"""`nst-bot` command line: the bot, its executors, migrations and operator commands.

Each subcommand imports its implementation lazily, so `nst-bot migrate` or `nst-bot jobs`
never pull in torch or discord.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from bot.executor.host import host_plan
from bot.settings import Settings, get_settings
from nst_engine.install import INSTALL_HINT, missing_packages

DB_HELP = (
    "database URL (default: DATABASE_URL). Prefer setting DATABASE_URL in the environment or "
    ".env: arguments, and any password in them, are visible to every user in `ps`"
)

# Without a token `nst-bot run` still serves the web playground and its executors.
DISCORD_OFF = (
    "nst-bot: DISCORD_TOKEN is not set, so Discord is off: the web playground and the executors "
    'run alone. To connect Discord, put DISCORD_TOKEN in .env (README: "Create the Discord '
    'application") and restart.'
)


ENGINE_HELP = f"nst-bot: this host has no engine: {INSTALL_HINT}"


def _no_engine(missing: list[str], hint: str = "") -> int:
    print(ENGINE_HELP, file=sys.stderr)
    for line in missing:
        print(f"  ({line})", file=sys.stderr)
    if hint:
        print(hint, file=sys.stderr)
    return 2


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.token:
        print(DISCORD_OFF, file=sys.stderr)
    executors = host_plan(settings, args.executors).executors
    if executors > 0 and (missing := missing_packages(load=False)):
        # Before anything starts. A bot-only host runs no executors and needs no engine.
        hint = f"{executors} executor(s) asked for (EXECUTORS); a bot-only host sets EXECUTORS=0."
        return _no_engine(missing, hint)
    from bot.runner import run

    return run(settings, executors=args.executors)


def _cmd_executor(args: argparse.Namespace, settings: Settings) -> int:
    if missing := missing_packages(load=True):
        return _no_engine(missing)
    from bot.executor.worker import main as executor_main

    return executor_main(settings, worker_id=args.worker_id, once=args.once)


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.store.migrate import migrate

    if _drops_data(args.revision) and not args.yes:
        print(
            f"nst-bot: `migrate {args.revision}` downgrades the schema and deletes data "
            "(`base` drops every table). Run it again with --yes if you mean it.",
            file=sys.stderr,
        )
        return 2
    migrate(settings.database_url, revision=args.revision)
    return 0


def _drops_data(revision: str) -> bool:
    # The targets `migrate()` always treats as a downgrade: `base` and relative `-N`.
    return revision == "base" or revision.startswith("-")


def _cmd_ops(name: str) -> Callable[[argparse.Namespace, Settings], int]:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        from bot import ops

        command: Callable[[argparse.Namespace, Settings], int] = getattr(ops, name)
        return command(args, settings)

    return handler


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="nst-bot", description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help=DB_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the Discord bot, its executors and the web endpoint")
    p.add_argument("--executors", type=int, default=None, help="executor processes to supervise")
    p.set_defaults(handler=_cmd_run)

    p = sub.add_parser("executor", help="run one GPU executor process")
    p.add_argument("--worker-id", default=None, help="stable id for this executor")
    p.add_argument("--once", action="store_true", help="exit when the queue is empty")
    p.set_defaults(handler=_cmd_executor)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("revision", nargs="?", default="head")
    p.add_argument("--yes", action="store_true", help="confirm a downgrade (`base` drops all)")
    p.set_defaults(handler=_cmd_migrate)

    from bot import ops

    ops.add_subcommands(sub, _cmd_ops)
    for p in sub.choices.values():
        # `--db` after the subcommand too; SUPPRESS keeps a `--db` given before it.
        p.add_argument("--db", default=argparse.SUPPRESS, help=DB_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nst-bot` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = _load_settings(args.command)
    except ValidationError as exc:
        print(f"nst-bot: invalid settings:\n{_describe_invalid(exc)}", file=sys.stderr)
        return 2
    if args.db:
        settings = settings.model_copy(update={"database_url": args.db})
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    return handler(args, settings)


def _load_settings(command: str) -> Settings:
    if command == "executor":
        # Executors must never hold the bot token, not even read from `.env`.
        from bot.executor.settings import executor_settings

        return executor_settings()
    return get_settings()


def _describe_invalid(exc: ValidationError) -> str:
    """One line per problem, naming the setting; never the value (it may be a secret)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in error["loc"]).upper()
        lines.append(f"  {name}: {error['msg']}" if name else f"  {error['msg']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
