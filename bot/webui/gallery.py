"""A server's public gallery: `/g/<guild id>` (pages of cards), `/g/<guild id>/<job id>` (one
pastiche), and their images and thumbnails, kept by browsers for good (content-addressed).

What is shown is `store.gallery` / `store.gallery_job` (the visibility policy for a member of
that guild, narrowed to succeeded jobs inside retention); a guild whose gallery is off, an
unknown guild and a job that is not in the gallery all get the same 404 page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.discord_bot.render import settings_line
from bot.store import Job
from bot.store.gallery import gallery_path
from bot.webui.images import (
    CARD,
    IMMUTABLE,
    LARGE,
    SMALL,
    THUMB_SIDES,
    image_response,
    not_modified,
    stored_image_response,
)

if TYPE_CHECKING:
    from bot.webui.app import WebUI

GUILD = r"{guild:\d{1,20}}"
JOB = r"{job:\d{1,19}}"
SHA = r"{sha:[0-9a-f]{64}}"
PAGE_SIZE = 24
# Gallery requests handled at once; the rest wait their turn. The web face shares the bot's
# event loop: a crowd of visitors then queues here instead of all rendering in one turn of the
# loop (which would hold up the Discord gateway's heartbeats).
CONCURRENCY = 8
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_ID = (1 << 63) - 1  # ids are signed 64-bit in the database; beyond: no such thing
PAGE_CACHE = "public, max-age=30"  # public content; short, so /forget and /config act soon
NOT_FOUND = "There is no gallery page here."


def settings_text(job: Job) -> str:
    """A job's options in one line, as the cards show them (no blend weights; a gallery job
    is never private, so `settings_line` adds nothing else)."""
    return settings_line(job, weights=False)


def _id(text: str | None) -> int | None:
    if text is None or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


class Gallery:
    """GET /g/{guild}, /g/{guild}/{job}, /g/{guild}/{job}/image/{sha},
    /g/{guild}/{job}/thumb/{side}/{sha}."""

    def __init__(self, ui: WebUI) -> None:
        self.ui = ui
        self.turns = asyncio.Semaphore(CONCURRENCY)

    def add_routes(self, app: web.Application) -> None:
        routes: dict[str, Handler] = {
            f"/g/{GUILD}": self.page,
            f"/g/{GUILD}/{JOB}": self.job_page,
            f"/g/{GUILD}/{JOB}/image/{SHA}": self.image,
            f"/g/{GUILD}/{JOB}/thumb/{{side:\\d{{2,4}}}}/{SHA}": self.thumb,
        }
        for path, handler in routes.items():
            app.router.add_get(path, self._in_turn(handler))

    def _in_turn(self, handler: Handler) -> Handler:
        async def queued(request: web.Request) -> web.StreamResponse:
            async with self.turns:
                return await handler(request)

        return queued

    @property
    def _retention(self) -> float:
        return float(self.ui.settings.retention_days)

    def _not_found(self) -> web.Response:
        return self.ui.render(
            "message.html",
            status=404,
            title="Not found",
            message=NOT_FOUND,
            back_url="/",
            back_text="The playground",
        )

    def _page_response(self, template: str, **ctx: Any) -> web.Response:
        resp = self.ui.render(template, **ctx)
        resp.headers["Cache-Control"] = PAGE_CACHE
        return resp

    async def page(self, request: web.Request) -> web.Response:
        guild = _id(request.match_info["guild"])
        before_text = request.query.get("before")
        before = _id(before_text)
        if guild is None or (before_text is not None and before is None):
            return self._not_found()
        page = await self.ui.store.gallery(
            guild, before=before, limit=PAGE_SIZE, retention_days=self._retention
        )
        if page is None:
            return self._not_found()
        return self._page_response(
            "gallery.html",
            jobs=page.jobs,
            older=page.older,
            first_page=before is None,
            base=gallery_path(guild),
            thumb=self._thumb_url,
            settings_text=settings_text,
            card=CARD,
            small=SMALL,
        )

    async def _job(self, request: web.Request) -> Job | None:
        guild, job_id = _id(request.match_info["guild"]), _id(request.match_info["job"])
        if guild is None or job_id is None:
            return None
        return await self.ui.store.gallery_job(guild, job_id, retention_days=self._retention)

    async def job_page(self, request: web.Request) -> web.Response:
        job = await self._job(request)
        if job is None or job.guild_id is None or job.result_sha is None:
            return self._not_found()
        base = gallery_path(job.guild_id, job.id)
        return self._page_response(
            "gallery_job.html",
            job=job,
            gallery=gallery_path(job.guild_id),
            settings=settings_text(job),
            result=self._thumb_url(job, LARGE, job.result_sha),
            full=f"{base}/image/{job.result_sha}",
            inputs=[self._thumb_url(job, CARD, job.content_sha)]
            + [self._thumb_url(job, CARD, sha) for sha, _ in job.styles],
        )

    @staticmethod
    def _thumb_url(job: Job, side: int, sha: str) -> str:
        return f"{gallery_path(job.guild_id or 0, job.id)}/thumb/{side}/{sha}"

    async def _shows(self, request: web.Request) -> bool:
        """Whether the URL's image belongs to a job of the URL's gallery (one query)."""
        guild, job_id = _id(request.match_info["guild"]), _id(request.match_info["job"])
        if guild is None or job_id is None:
            return False
        return await self.ui.store.gallery_has_image(
            guild, job_id, request.match_info["sha"], retention_days=self._retention
        )

    async def image(self, request: web.Request) -> web.Response:
        """A gallery job's full image (its result or an input), immutable by sha."""
        if not await self._shows(request):
            return self._not_found()
        resp = await stored_image_response(
            request,
            self.ui.store,
            request.match_info["sha"],
            download_stem=f"pastiche-{request.match_info['job']}",
        )
        return resp or self._not_found()

    async def thumb(self, request: web.Request) -> web.Response:
        """A thumbnail of a gallery job's image, made once and kept in the store."""
        sha, side = request.match_info["sha"], int(request.match_info["side"])
        if side not in THUMB_SIDES:
            return self._not_found()
        guild, job_id = _id(request.match_info["guild"]), _id(request.match_info["job"])
        if guild is None or job_id is None:
            return self._not_found()
        shown, thumb = await self.ui.store.gallery_thumbnail(
            guild, job_id, sha, side, retention_days=self._retention
        )
        if not shown:
            return self._not_found()
        etag = f'"{sha}-{side}"'
        unchanged = not_modified(request, etag, IMMUTABLE)
        if unchanged is not None:
            return unchanged
        if thumb is None:  # the first request for it: made now, once
            thumb = await self.ui.thumbnails.make(sha, side)
        if thumb is None:
            return self._not_found()
        return image_response(thumb, etag, IMMUTABLE)
