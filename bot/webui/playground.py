"""The playground: the form at `/`, submitting a job, and forgetting this browser's data."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING

from aiohttp import web

from bot import styles
from bot.discord_bot.errors import InputRejected
from bot.discord_bot.validation import ACCEPTED_TYPES, decode_all
from bot.store import PRESETS, ImageBlob, JobParams, QueueRefused, Viewer
from bot.store.types import MAX_STRENGTH, MIN_SIZE, MIN_STRENGTH
from bot.webui.identity import COOKIE
from bot.webui.intake import Form, checked_uploads, chosen, read_form
from bot.webui.jobpages import headline
from bot.webui.limits import client_address

if TYPE_CHECKING:
    from bot.webui.app import WebUI

log = logging.getLogger(__name__)

# Refusals that mean "not now" rather than "not this": the page says so either way.
STATUS_OF_REFUSAL = {
    "user_limit": 429,
    "cooldown": 429,
    "queue_full": 503,
    "guild_full": 503,
}
RECENT_SHOWN = 5


def library_choice(form: Form) -> styles.LibraryStyle | None:
    """The library painting the form picked instead of a style upload (None: an upload);
    refuses both at once and unknown names, in /stylize's words."""
    name = form.fields.get("style_name", "").strip()
    if not name:
        return None
    painting = styles.find(name)
    if painting is None:
        raise InputRejected(
            f"There is no painting called “{name[:64]}” in the style library.",
            code="unknown_style",
        )
    if chosen(form, "style"):
        raise InputRejected(
            "Choose either a style image or a painting of the library, not both.",
            code="bad_params",
        )
    return painting


class Playground:
    """GET /, POST /jobs, POST /forget."""

    def __init__(self, ui: WebUI) -> None:
        self.ui = ui

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.page)
        app.router.add_post("/jobs", self.submit)
        app.router.add_post("/forget", self.forget)

    async def page(self, request: web.Request) -> web.Response:
        """The form (a first visit gets its web identity)."""
        owner = self.ui.identity.owner_of(request)
        cookie = None
        if owner is None:
            owner, cookie = self.ui.identity.mint()
        return await self._form(owner, cookie=cookie)

    async def _form(
        self,
        owner: int,
        *,
        cookie: str | None = None,
        error: str | None = None,
        code: str | None = None,
        values: dict[str, str] | None = None,
    ) -> web.Response:
        s = self.ui.settings
        recent = await self.ui.store.history(owner, Viewer(owner, None), limit=RECENT_SHOWN)
        values = values or {}
        return self.ui.render(
            "playground.html",
            cookie=cookie,
            csrf=self.ui.identity.csrf_token(owner),
            error=error,
            error_code=code,
            min_size=MIN_SIZE,
            max_size=s.max_size,
            size=values.get("size") or str(min(s.default_size, s.max_size)),
            presets=PRESETS,
            library=styles.library(),
            style_name=values.get("style_name") or "",
            preset=values.get("preset") or s.default_preset,
            strength=values.get("strength") or "1.0",
            min_strength=MIN_STRENGTH,
            max_strength=MAX_STRENGTH,
            preserve_colors=values.get("preserve_colors") in ("on", "1", "true"),
            max_mb=f"{s.max_upload_bytes / 1_000_000:.1f}",
            accepted=ACCEPTED_TYPES,
            recent=[(job, headline(job, None, None)) for job in recent],
        )

    async def submit(self, request: web.Request) -> web.StreamResponse:
        """Queue a job from the form: the same order as /stylize — limits first (one read),
        then the upload checks, then decoding off the loop, then `store.submit`."""
        ui = self.ui
        owner = ui.identity.owner_of(request)
        if owner is None or not ui.identity.origin_ok(request):
            return ui.forbidden()
        s = ui.settings
        address = client_address(request, behind_proxy=bool(s.web_public_url))
        wait_s = ui.ip_limit.retry_after(address)
        if wait_s is not None:  # before reading the upload: a refusal costs no transfer
            return await self._refused(owner, ui.ip_limit.message(wait_s), "ip_limit", {}, 429)
        values: dict[str, str] = {}
        try:
            form = await read_form(request, max_bytes=s.max_upload_bytes)
            values = form.fields
            if not ui.identity.csrf_ok(request, owner, form.fields.get("csrf")):
                return ui.forbidden()
            params = self._params(form.fields)
            await ui.store.admit(owner, None, None, params.size)
            painting = library_choice(form)
            skip = ("style",) if painting is not None else ()
            uploads = checked_uploads(form, max_bytes=s.max_upload_bytes, skip=skip)
            items = [(role, up.filename, up.data) for role, up in uploads]
            async with ui.intake:
                images = await asyncio.to_thread(decode_all, items, max_pixels=s.max_image_pixels)
            blobs = [ImageBlob(i.data, i.fmt, i.width, i.height) for i in images]
            style = painting.blob() if painting is not None else blobs[1]
            job = await ui.store.submit(owner, None, None, blobs[0], [(style, 1.0)], params)
        except InputRejected as exc:
            status = 413 if exc.code == "too_large_bytes" else 400
            return await self._refused(owner, exc.message, exc.code, values, status)
        except QueueRefused as exc:
            status = STATUS_OF_REFUSAL.get(exc.code, 400)
            return await self._refused(owner, exc.message, exc.code, values, status)
        ui.ip_limit.record(address)
        log.info("job %d queued from the web playground", job.id)
        raise web.HTTPSeeOther(f"/jobs/{job.id}")

    async def _refused(
        self, owner: int, message: str, code: str, values: dict[str, str], status: int
    ) -> web.Response:
        # The page is rendered with 200 (the form again, with the reason above it, as form
        # frameworks do: a browser logs any 4xx document as a console error); the status
        # the request deserves is in `X-NST-Status`, the reason's code in `X-NST-Error`.
        resp = await self._form(owner, error=message, code=code, values=values)
        resp.headers["X-NST-Error"] = code
        resp.headers["X-NST-Status"] = str(status)
        return resp

    async def forget(self, request: web.Request) -> web.StreamResponse:
        """Delete every job and image of this browser's web user (`store.forget_user`), then
        drop its cookie: the next visit is a new web user."""
        ui = self.ui
        owner = await ui.button_owner(request)
        if owner is None:
            return ui.forbidden()
        result = await ui.store.forget_user(owner)
        log.info("web user forgotten: %d job(s), %d image(s)", result.jobs, result.images)
        jobs = "1 job" if result.jobs == 1 else f"{result.jobs} jobs"
        resp = ui.render(
            "message.html",
            title="Forgotten",
            message=f"Deleted {jobs} of this browser and their images. This browser is now a "
            "new web user.",
            notice=True,
        )
        resp.del_cookie(COOKIE, path="/")
        return resp

    def _params(self, fields: dict[str, str]) -> JobParams:
        s = self.ui.settings
        bad_size = InputRejected(
            f"The size must be a whole number of pixels from {MIN_SIZE} to {s.max_size}.",
            code="bad_params",
        )
        try:
            size = int(fields.get("size") or min(s.default_size, s.max_size))
        except ValueError:
            raise bad_size from None
        if size < MIN_SIZE:
            raise bad_size
        # Above MAX_SIZE: `admit` refuses it, with the text /stylize gives.
        preset = fields.get("preset") or s.default_preset
        if preset not in PRESETS:
            raise InputRejected(
                f"Unknown preset; choose one of {', '.join(PRESETS)}.", code="bad_params"
            )
        try:
            strength = float(fields.get("strength") or 1.0)
        except ValueError:
            strength = math.nan
        if not MIN_STRENGTH <= strength <= MAX_STRENGTH:  # also refuses NaN
            raise InputRejected(
                f"The strength must be a number from {MIN_STRENGTH:g} to {MAX_STRENGTH:g}.",
                code="bad_params",
            )
        return JobParams(
            size=size,
            preset=preset,
            style_strength=strength,
            preserve_colors=fields.get("preserve_colors") in ("on", "1", "true"),
            private=True,  # a web job is its browser's alone (it has no guild anyway)
        )
