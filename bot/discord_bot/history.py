"""`/history` pages: up to ten jobs each, their results as a media gallery, and persistent
Previous/Next buttons (custom id `nst:history:<user>:<offset>`, registered in `setup_hook`)
that page through what the person pressing them may see (`bot.store.visibility`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import ui

from bot.discord_bot.buttons import Guarded, button
from bot.discord_bot.layouts import GALLERY_MAX, history_layout
from bot.discord_bot.thumbs import result_tiles
from bot.discord_bot.viewer import viewer_of
from bot.store import Viewer

if TYPE_CHECKING:
    from bot.discord_bot.client import NSTBot

HISTORY_PAGE = GALLERY_MAX  # one result tile per job listed


class HistoryButton(
    Guarded,
    ui.DynamicItem[ui.Button],
    template=r"nst:history:(?P<user>\d+):(?P<offset>\d+)",
):
    def __init__(self, user_id: int, offset: int, *, label: str = "Next") -> None:
        custom_id = f"nst:history:{user_id}:{offset}"
        super().__init__(button(custom_id, label, discord.ButtonStyle.secondary))
        self.user_id = user_id
        self.offset = offset

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["user"]), int(match["offset"]))

    async def act(self, interaction: discord.Interaction[NSTBot]) -> None:
        viewer = viewer_of(interaction)
        page = await history_page(interaction.client, self.user_id, viewer, self.offset)
        await interaction.response.edit_message(**page)


async def history_page(bot: NSTBot, user_id: int, viewer: Viewer, offset: int) -> dict[str, Any]:
    """One page of a user's history as `viewer` may see it: the keyword arguments of a
    message edit (`view`, `attachments`), with Previous/Next buttons where there is more."""
    found = await bot.store.history(user_id, viewer, limit=HISTORY_PAGE + 1, offset=offset)
    jobs, has_next = found[:HISTORY_PAGE], len(found) > HISTORY_PAGE
    tiles = await result_tiles(bot.store, jobs)
    nav: list[ui.Item[Any]] = []
    if offset > 0:
        nav.append(HistoryButton(user_id, max(0, offset - HISTORY_PAGE), label="Previous"))
    if has_next:
        nav.append(HistoryButton(user_id, offset + HISTORY_PAGE, label="Next"))
    view = history_layout(user_id, jobs, tiles, offset // HISTORY_PAGE, has_next, nav)
    # `attachments` replaces the message's files: a page shows only its own tiles.
    # content/embed None: an older history message (an embed) turns into this layout.
    files = [t.file() for t in tiles.values()]
    return {"view": view, "attachments": files, "content": None, "embed": None}
