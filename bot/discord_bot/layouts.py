"""Components V2 message layouts (discord.py `LayoutView`): a finished job's result and a page
of `/history`. No I/O: the images come in as `Tile`s already made (`thumbs.py`).

A V2 message (flag IS_COMPONENTS_V2, set by discord.py for a LayoutView) has no content and
no embeds: every word is a text display, every image a media gallery item pointing at one of
the message's attachments (`attachment://name`). Once set the flag stays on the message, so
only a job's last message (its result) is turned into one; queue and progress cards stay
classic messages that edits keep changing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
from discord import ui

from bot.discord_bot.delete_button import DeleteButton
from bot.discord_bot.progress import format_duration
from bot.discord_bot.render import (
    COLOUR,
    STATUS_ICON,
    finished_text,
    message_link,
    settings_line,
    timestamp,
)
from bot.discord_bot.thumbs import Tile
from bot.discord_bot.variants import VARIANTS
from bot.discord_bot.views import RerunButton
from bot.store import Job

GALLERY_MAX = 10  # Discord's limit on the items of one media gallery
DESCRIPTION_MAX = 256  # and on an item's description


def frozen(*items: ui.Item[Any]) -> ui.LayoutView:
    """A layout for sending only: stopped at once so discord.py doesn't keep it per message
    (the buttons are persistent `DynamicItem`s, routed by custom id)."""
    view = ui.LayoutView(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()
    return view


def _gallery(tiles: Sequence[Tile]) -> ui.MediaGallery[Any]:
    gallery: ui.MediaGallery[Any] = ui.MediaGallery()
    for tile in tiles[:GALLERY_MAX]:
        gallery.add_item(media=tile.url, description=tile.description[:DESCRIPTION_MAX])
    return gallery


def result_details(job: Job) -> str:
    """The small print under a result: settings, engine time, notes and the job number."""
    lines = [settings_line(job)]
    if job.elapsed_s is not None:
        lines[0] += f" · took {format_duration(job.elapsed_s)}"
    if job.notes:
        lines.append(f"Notes: {job.notes[:1000]}")
    lines.append(f"Job `{job.id}` · buttons: re-run with a variation; its owner can delete it")
    return "\n".join(f"-# {line}" for line in lines)


def result_layout(
    job: Job,
    pastiche: Tile,
    sides: Sequence[Tile],
    mention: str | None = None,
    *,
    gallery: str | None = None,
) -> ui.LayoutView:
    """A succeeded job's result: the pastiche with its content and style beside it, the
    settings, a link to its page in the server's web gallery (`gallery`, when there is one),
    the re-run buttons and the owner's delete button."""
    card: ui.Container[Any] = ui.Container(accent_colour=COLOUR[job.status])
    card.add_item(ui.TextDisplay(finished_text(job, mention)))
    card.add_item(_gallery([pastiche, *sides]))
    card.add_item(ui.TextDisplay(result_details(job)))
    if gallery:
        card.add_item(ui.TextDisplay(gallery))
    reruns: ui.ActionRow[Any] = ui.ActionRow(*(RerunButton(job.id, v) for v in VARIANTS))
    own: ui.ActionRow[Any] = ui.ActionRow(DeleteButton(job.id, job.owner_id))
    return frozen(card, reruns, own)


def history_line(job: Job) -> str:
    """One job of a `/history` page: number, status, settings, age and a link to the result."""
    line = (
        f"{STATUS_ICON[job.status]} **#{job.id} — {job.status.value}** · {settings_line(job)} · "
        f"{timestamp(job.created_at)}"
    )
    link = message_link(job)
    return f"{line} · [result]({link})" if link else line


def history_layout(
    user_id: int,
    jobs: Sequence[Job],
    tiles: dict[int, Tile],
    page: int,
    has_next: bool,
    nav: Sequence[ui.Item[Any]] = (),
) -> ui.LayoutView:
    """One page of `/history`: a gallery of the page's results (each tile named by its job
    number and settings), the list of its jobs, and the paging buttons `nav`."""
    card: ui.Container[Any] = ui.Container(accent_colour=discord.Colour.blurple())
    card.add_item(
        ui.TextDisplay(f"## Style-transfer history\nJobs of <@{user_id}> — page {page + 1}")
    )
    shown = [
        Tile(t.upload, f"#{job.id} · {settings_line(job)}")
        for job in jobs
        if (t := tiles.get(job.id)) is not None
    ]
    if shown:
        card.add_item(_gallery(shown))
    lines = [history_line(job) for job in jobs] or ["No jobs to show."]
    card.add_item(ui.TextDisplay("\n".join(lines)))
    if has_next:
        card.add_item(ui.TextDisplay("-# More on the next page"))
    if not nav:
        return frozen(card)
    return frozen(card, ui.ActionRow(*nav))
