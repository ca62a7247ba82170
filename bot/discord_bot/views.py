"""Persistent buttons: `DynamicItem`s whose custom ids carry everything needed after a restart.

Custom ids: `nst:rerun:<job>:<variant>`, `nst:forget:<user>`; the queue card's
`nst:cancel:<job>` is in buttons.py (with what every button shares), the
`/history` pages' `nst:history:<user>:<offset>` is in history.py, the result's owner-only
`nst:delete:<job>:<owner>` in delete_button.py. The classes are registered in `setup_hook`,
so a click is routed by its custom id alone; views built here are stopped before sending so
discord.py never keeps them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import ui

from bot.discord_bot import intake
from bot.discord_bot.buttons import CancelButton, Guarded, button, cancel_view, static_view
from bot.discord_bot.variants import VARIANT_LABELS, VARIANTS

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

# Re-exported: the shared button pieces moved to `buttons` (importers here keep working).
__all__ = [
    "DYNAMIC_ITEMS",
    "CancelButton",
    "ForgetButton",
    "RerunButton",
    "cancel_view",
    "result_view",
    "static_view",
]
_Guarded = Guarded  # the old name (history.py and delete_button.py import it from here)
log = logging.getLogger(__name__)


class RerunButton(
    Guarded,
    ui.DynamicItem[ui.Button],
    template=rf"nst:rerun:(?P<job>\d+):(?P<variant>{'|'.join(VARIANTS)})",
):
    def __init__(self, job_id: int, variant: str) -> None:
        label, emoji = VARIANT_LABELS[variant]
        super().__init__(
            button(f"nst:rerun:{job_id}:{variant}", label, discord.ButtonStyle.secondary, emoji)
        )
        self.job_id = job_id
        self.variant = variant

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["job"]), match["variant"])

    async def act(self, interaction: discord.Interaction[NSTBot]) -> None:
        await intake.rerun(interaction.client, interaction, self.job_id, self.variant)


class ForgetButton(Guarded, ui.DynamicItem[ui.Button], template=r"nst:forget:(?P<user>\d+)"):
    def __init__(self, user_id: int) -> None:
        super().__init__(
            button(f"nst:forget:{user_id}", "Delete all my data", discord.ButtonStyle.danger)
        )
        self.user_id = user_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["user"]))

    async def act(self, interaction: discord.Interaction[NSTBot]) -> None:
        if interaction.user.id != self.user_id:
            await interaction.response.send_message(
                "🙏 Only the person who asked can confirm this.", ephemeral=True
            )
            return
        bot = interaction.client
        result = await bot.store.forget_user(self.user_id)
        # Their saved "private" default is gone (StylizeCog listens).
        bot.dispatch("private_default_changed", self.user_id, False)
        log.info("user %d forgotten: %d jobs, %d images", self.user_id, result.jobs, result.images)
        await interaction.response.edit_message(
            content=f"🗑️ Done: deleted {result.jobs} job(s) and {result.images} image(s).",
            view=None,
        )


def result_view(job_id: int) -> ui.View:
    return static_view(*(RerunButton(job_id, v) for v in VARIANTS))


DYNAMIC_ITEMS = (CancelButton, RerunButton, ForgetButton)
