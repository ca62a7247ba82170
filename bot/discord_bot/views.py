"""Persistent buttons: `DynamicItem`s whose custom ids carry everything needed after a restart.

Custom ids: `nst:cancel:<job>`, `nst:rerun:<job>:<variant>`, `nst:history:<user>:<offset>`,
`nst:forget:<user>`. The classes are registered in `setup_hook`, so a click is routed by its
custom id alone; views built here are stopped before sending so discord.py never keeps them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import ui

from bot.discord_bot import jobs
from bot.discord_bot.errors import report_failure
from bot.discord_bot.viewer import viewer_of
from bot.store import CancelRefused, Viewer

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

log = logging.getLogger(__name__)
HISTORY_PAGE = 5


def _bot(interaction: discord.Interaction) -> NSTBot:
    return cast("NSTBot", interaction.client)


def static_view(*items: ui.Item[Any]) -> ui.View:
    """A view for sending only: stopped at once so discord.py doesn't store it per message."""
    view = ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()
    return view


def _button(
    custom_id: str, label: str, style: discord.ButtonStyle, emoji: str | None = None
) -> ui.Button[Any]:
    return ui.Button(label=label, emoji=emoji, style=style, custom_id=custom_id)


class _Guarded:
    """Mixin for the buttons: `callback` runs `act`, and any failure becomes the same specific
    message (and error-listener call) that a failing command gives."""

    async def act(self, interaction: discord.Interaction) -> None:
        raise NotImplementedError

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self.act(interaction)
        except Exception as exc:
            custom_id = interaction.data and interaction.data.get("custom_id")
            await report_failure(interaction, exc, f"button {custom_id}")


class CancelButton(_Guarded, ui.DynamicItem[ui.Button], template=r"nst:cancel:(?P<job>\d+)"):
    def __init__(self, job_id: int) -> None:
        super().__init__(_button(f"nst:cancel:{job_id}", "Cancel", discord.ButtonStyle.danger, "✖️"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):  # type: ignore[override]
        return cls(int(match["job"]))

    async def act(self, interaction: discord.Interaction) -> None:
        bot = _bot(interaction)
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


class RerunButton(
    _Guarded,
    ui.DynamicItem[ui.Button],
    template=r"nst:rerun:(?P<job>\d+):(?P<variant>stronger|weaker|colours|larger)",
):
    def __init__(self, job_id: int, variant: str) -> None:
        label, emoji = jobs.VARIANT_LABELS[variant]
        super().__init__(
            _button(f"nst:rerun:{job_id}:{variant}", label, discord.ButtonStyle.secondary, emoji)
        )
        self.job_id = job_id
        self.variant = variant

    @classmethod
    async def from_custom_id(cls, interaction, item, match):  # type: ignore[override]
        return cls(int(match["job"]), match["variant"])

    async def act(self, interaction: discord.Interaction) -> None:
        await jobs.rerun(_bot(interaction), interaction, self.job_id, self.variant)


class HistoryButton(
    _Guarded,
    ui.DynamicItem[ui.Button],
    template=r"nst:history:(?P<user>\d+):(?P<offset>\d+)",
):
    def __init__(self, user_id: int, offset: int, *, label: str = "Next") -> None:
        super().__init__(
            _button(f"nst:history:{user_id}:{offset}", label, discord.ButtonStyle.secondary)
        )
        self.user_id = user_id
        self.offset = offset

    @classmethod
    async def from_custom_id(cls, interaction, item, match):  # type: ignore[override]
        return cls(int(match["user"]), int(match["offset"]))

    async def act(self, interaction: discord.Interaction) -> None:
        embed, view = await history_page(
            _bot(interaction), self.user_id, viewer_of(interaction), self.offset
        )
        await interaction.response.edit_message(embed=embed, view=view)


async def history_page(
    bot: NSTBot, user_id: int, viewer: Viewer, offset: int
) -> tuple[discord.Embed, ui.View]:
    """One page of a user's history as `viewer` may see it, with Previous/Next buttons."""
    from bot.discord_bot.render import history_embed

    found = await bot.store.history(user_id, viewer, limit=HISTORY_PAGE + 1, offset=offset)
    has_next = len(found) > HISTORY_PAGE
    embed = history_embed(user_id, found[:HISTORY_PAGE], offset // HISTORY_PAGE, has_next)
    buttons: list[ui.Item[Any]] = []
    if offset > 0:
        buttons.append(HistoryButton(user_id, max(0, offset - HISTORY_PAGE), label="Previous"))
    if has_next:
        buttons.append(HistoryButton(user_id, offset + HISTORY_PAGE, label="Next"))
    return embed, static_view(*buttons)


class ForgetButton(_Guarded, ui.DynamicItem[ui.Button], template=r"nst:forget:(?P<user>\d+)"):
    def __init__(self, user_id: int) -> None:
        super().__init__(
            _button(f"nst:forget:{user_id}", "Delete all my data", discord.ButtonStyle.danger)
        )
        self.user_id = user_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):  # type: ignore[override]
        return cls(int(match["user"]))

    async def act(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.user_id:
            await interaction.response.send_message(
                "🙏 Only the person who asked can confirm this.", ephemeral=True
            )
            return
        bot = _bot(interaction)
        result = await bot.store.forget_user(self.user_id)
        bot.set_private_default(self.user_id, False)  # their saved "private" default is gone
        log.info("user %d forgotten: %d jobs, %d images", self.user_id, result.jobs, result.images)
        await interaction.response.edit_message(
            content=f"🗑️ Done: deleted {result.jobs} job(s) and {result.images} image(s).",
            view=None,
        )


def cancel_view(job_id: int) -> ui.View:
    return static_view(CancelButton(job_id))


def result_view(job_id: int) -> ui.View:
    return static_view(*(RerunButton(job_id, v) for v in jobs.VARIANTS))


DYNAMIC_ITEMS = (CancelButton, RerunButton, HistoryButton, ForgetButton)
