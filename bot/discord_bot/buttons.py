"""What every persistent button shares: sending-only views, the failure guard, and the queue
card's Cancel button (custom id `nst:cancel:<job>`).

Kept apart from `views` (the result's and `/forget`'s buttons) so that intake, which puts a
Cancel button on each queue card, needs nothing of the buttons that call intake back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import ui

from bot.discord_bot.errors import report_failure
from bot.discord_bot.viewer import viewer_of
from bot.store import CancelRefused

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)


def static_view(*items: ui.Item[Any]) -> ui.View:
    """A view for sending only: stopped at once so discord.py doesn't store it per message."""
    view = ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()
    return view


def button(
    custom_id: str, label: str, style: discord.ButtonStyle, emoji: str | None = None
) -> ui.Button[Any]:
    """A plain button with a persistent custom id (wrapped by a `DynamicItem`)."""
    return ui.Button(label=label, emoji=emoji, style=style, custom_id=custom_id)


class Guarded:
    """Mixin for the buttons: `callback` runs `act`, and any failure becomes the same specific
    message (and error-listener call) that a failing command gives."""

    async def act(self, interaction: discord.Interaction[NSTBot]) -> None:
        """What the click does; raise `UserFacingError` (or anything) to answer a failure."""
        raise NotImplementedError

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """discord.py's entry point for a click (typed as discord.py declares it: generic in
        the client; here the client is always the NSTBot that registered the button)."""
        try:
            await self.act(interaction)
        except Exception as exc:
            custom_id = interaction.data and interaction.data.get("custom_id")
            await report_failure(interaction, exc, f"button {custom_id}")


class CancelButton(Guarded, ui.DynamicItem[ui.Button], template=r"nst:cancel:(?P<job>\d+)"):
    def __init__(self, job_id: int) -> None:
        super().__init__(button(f"nst:cancel:{job_id}", "Cancel", discord.ButtonStyle.danger, "✖️"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["job"]))

    async def act(self, interaction: discord.Interaction[NSTBot]) -> None:
        bot = interaction.client
        # Manage Server where the click comes from; the store honours it only when that is
        # the job's own guild.
        admin = bool(interaction.permissions and interaction.permissions.manage_guild)
        try:
            job = await bot.store.request_cancel(self.job_id, viewer_of(interaction), admin=admin)
        except CancelRefused as exc:
            text = {
                "not_owner": "🙏 Sorry, only the person who started this job can cancel it.",
                "already_finished": f"Job #{self.job_id} has already finished.",
            }.get(exc.code, exc.message)  # not_found: the store's "no job … that you can see"
            await interaction.response.send_message(text, ephemeral=True)
            return
        log.info("job %d cancel requested by user %d", job.id, interaction.user.id)
        bot.watcher.poke()
        await interaction.response.send_message(f"🚫 Cancelling job #{job.id}…", ephemeral=True)


def cancel_view(job_id: int) -> ui.View:
    """The queue card's buttons: Cancel."""
    return static_view(CancelButton(job_id))
