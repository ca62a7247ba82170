"""Every failure class maps to a specific message; unexpected ones get a reference, no trace."""

from __future__ import annotations

import logging

import discord
import pytest
from discord import app_commands

from bot.discord_bot.errors import ChannelNotAllowed, InputRejected, describe
from bot.store import CancelRefused, QueueRefused


class FakeResponse:
    status = 403
    reason = "Forbidden"


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (InputRejected("The content image is empty.", code="empty"), "empty", "empty"),
        (ChannelNotAllowed("Not here; use #art."), "channel_not_allowed", "#art"),
        (QueueRefused("queue_full", "The queue is full; try later."), "queue_full", "full"),
        (CancelRefused("not_owner", "Only the owner."), "not_owner", "owner"),
        (app_commands.CommandOnCooldown(app_commands.Cooldown(1, 10), 7.2), "cooldown", "7 s"),
        (app_commands.MissingPermissions(["manage_guild"]), "missing_permissions", "Manage Guild"),
        (app_commands.NoPrivateMessage(), "guild_only", "server"),
        (discord.Forbidden(FakeResponse(), {"code": 50013, "message": "x"}), "forbidden", "post"),
    ],
)
def test_known_failures_have_specific_messages(error, code, words):
    got_code, message = describe(error)
    assert got_code == code
    assert words in message


def test_wrapped_errors_are_unwrapped():
    inner = InputRejected("The style image is SVG.", code="unsupported_format")
    cmd = app_commands.Command(name="x", description="x", callback=_noop)
    assert describe(app_commands.CommandInvokeError(cmd, inner)) == (
        "unsupported_format",
        "The style image is SVG.",
    )


def test_unexpected_error_gets_a_reference_and_is_logged(caplog):
    with caplog.at_level(logging.ERROR, logger="bot.discord_bot.errors"):
        code, message = describe(ZeroDivisionError("secret internals"))
    assert code == "internal"
    assert "secret internals" not in message and "Traceback" not in message
    ref = message.split("`")[1]
    assert any(ref in r.getMessage() for r in caplog.records)


async def _noop(interaction: discord.Interaction) -> None:
    return None
