"""The owner's *Delete* button on a result message (custom id `nst:delete:<job>:<owner>`).

The custom id carries the owner as well as the job, so the button still works after the job
itself was purged (retention) or forgotten, and a press costs no database read. Only the
message goes: the job, its images and its delivery record stay as they are.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import ui

from bot.discord_bot.buttons import Guarded, button

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)

NOT_OWNER = "🙏 Only the person who made this pastiche can delete its message."
ALREADY_GONE = "That message has already been deleted."


class DeleteButton(
    Guarded, ui.DynamicItem[ui.Button], template=r"nst:delete:(?P<job>\d+):(?P<owner>\d+)"
):
    def __init__(self, job_id: int, owner_id: int) -> None:
        custom_id = f"nst:delete:{job_id}:{owner_id}"
        super().__init__(button(custom_id, "Delete", discord.ButtonStyle.secondary, "🗑️"))
        self.job_id = job_id
        self.owner_id = owner_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["job"]), int(match["owner"]))

    async def act(self, interaction: discord.Interaction[NSTBot]) -> None:
        """Delete the message this button is on, for its owner only. Through the press's own
        interaction (acknowledge as an update, then delete @original, which is that message),
        so it works for channel posts, DMs and interaction responses alike, ephemeral ones
        and user installs included, where the bot token could not delete it."""
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(NOT_OWNER, ephemeral=True)
            return
        await interaction.response.defer()  # a component's defer: "update the message"
        try:
            await interaction.delete_original_response()
        except discord.NotFound:
            await interaction.followup.send(ALREADY_GONE, ephemeral=True)
            return
        log.info("job %d: result message deleted by its owner", self.job_id)
