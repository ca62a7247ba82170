"""What a finished job's message carries: for a result, the Components V2 layout with the
pastiche, its content and style beside it and the buttons; otherwise the classic one-line
outcome (failed, cancelled, or a result image that is gone)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.discord_bot.layouts import result_layout
from bot.discord_bot.render import finished_text, gallery_link
from bot.discord_bot.thumbs import Tile, side_tiles
from bot.discord_bot.uploads import Result, upload_limit
from bot.store import Job, JobStatus

if TYPE_CHECKING:
    from bot.store.ports import BotStore


class ShownResult(Result):
    """The result image (fitted to the job's upload limit, shrunk after a 413) and the side
    images shown with it."""

    def __init__(
        self, data: bytes, stem: str, limit: int, sides: list[Tile], gallery: str | None = None
    ) -> None:
        super().__init__(data, stem, limit)
        self.sides = sides
        self.gallery = gallery  # the line linking to the server's web gallery, if any

    def fitting_sides(self) -> list[Tile]:
        """The side images within the current limit (it drops after a 413: the pastiche
        matters more than its companions)."""
        return [tile for tile in self.sides if tile.size <= self.limit]


async def prepare_result(
    store: BotStore, job: Job, data: bytes, *, public_url: str | None = None
) -> ShownResult:
    """The result of `job` (its image bytes `data`) ready to post, with its side images and,
    where the web face has a `public_url` and the server's gallery is on, a link there."""
    limit = upload_limit(job)
    # Ask the store only when there is a public address to link to.
    guild = job.guild_id
    gallery_on = bool(public_url) and guild is not None and await store.gallery_enabled(guild)
    sides = await side_tiles(store, job, limit)
    result = ShownResult(
        data, f"pastiche-{job.id}", limit, sides, gallery_link(job, public_url, gallery_on)
    )
    await result.prepare()
    return result


def result_message(job: Job, result: Result | None, *, mention: bool) -> dict[str, Any]:
    """The keyword arguments of a send or an edit that shows `job`'s outcome: `view`,
    `content`, `embed` and `files` (an edit passes `files` as `attachments`). `mention`: the
    owner is named first, for posts outside the interaction."""
    who = f"<@{job.owner_id}>" if mention else None
    upload = result.upload if result is not None else None
    if job.status != JobStatus.SUCCEEDED or upload is None:
        # view None removes the Cancel button from the edited response.
        return {"content": finished_text(job, who), "embed": None, "view": None, "files": []}
    shown = result if isinstance(result, ShownResult) else None
    sides = shown.fitting_sides() if shown is not None else []
    pastiche = Tile(upload, f"Pastiche #{job.id}")
    files = [pastiche.file(), *(tile.file() for tile in sides)]
    # content/embed None: the queue card being edited into the result loses its text (a
    # Components V2 message has neither).
    view = result_layout(job, pastiche, sides, who, gallery=shown.gallery if shown else None)
    return {"content": None, "embed": None, "view": view, "files": files}
