"""The playground's request handlers, rendering (Jinja2) and the web jobs' settling task."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import re
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from bot.discord_bot.errors import InputRejected
from bot.discord_bot.validation import ACCEPTED_TYPES, decode_all
from bot.store import (
    PRESETS,
    ImageBlob,
    Job,
    JobParams,
    JobStatus,
    QueueRefused,
    Store,
    Viewer,
    can_see,
    unseen_message,
)
from bot.store.types import MAX_STRENGTH, MIN_SIZE, MIN_STRENGTH
from bot.webui.identity import Identity
from bot.webui.intake import checked_uploads, read_form

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

HOLDER = "web"  # the delivery holder that settles web jobs (nothing to post anywhere)
IMMUTABLE = "private, max-age=31536000, immutable"  # images by sha never change
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
STATIC_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob:; script-src 'self'; style-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
# Refusals that mean "not now" rather than "not this": the page says so either way.
STATUS_OF_REFUSAL = {"user_limit": 429, "cooldown": 429, "queue_full": 503, "guild_full": 503}
CSRF_MESSAGE = "This form has expired or was sent from another site. Reload the page and try again."
_JOB_ID = r"{id:\d{1,18}}"


def discord_md(text: str) -> Markup:
    """The bot's messages use Discord markdown: `code` and **bold** become HTML (escaped)."""
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    return Markup(html)


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


class WebUI:
    """Everything the web face needs, bound to one store and one set of settings."""

    settle_interval_s = 1.0

    def __init__(
        self,
        store: Store,
        settings: Settings,
        identity: Identity,
        *,
        on_finished: Callable[[Job], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.identity = identity
        self.on_finished = on_finished
        self.intake = asyncio.Semaphore(settings.intake_concurrency)
        public = settings.web_public_url or ""
        self.secure_cookie = str(public).startswith("https://")
        self.pending: set[int] = set()  # web jobs submitted here and not yet settled
        self.static: dict[str, tuple[bytes, str]] = {}
        folder = resources.files("bot.webui") / "static"
        for entry in folder.iterdir():
            suffix = "." + entry.name.rsplit(".", 1)[-1]
            if suffix in STATIC_TYPES:
                self.static[entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])
        self.versions = {
            name: hashlib.sha256(body).hexdigest()[:10] for name, (body, _) in self.static.items()
        }
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("bot.webui", "templates"),
            autoescape=jinja2.select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["md"] = discord_md
        self.env.globals["static"] = lambda name: f"/static/{name}?v={self.versions[name]}"

    # -- wiring -----------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.playground)
        app.router.add_post("/jobs", self.submit)
        app.router.add_get(f"/jobs/{_JOB_ID}", self.job_page)
        app.router.add_get(f"/jobs/{_JOB_ID}.json", self.job_json)
        app.router.add_post(f"/jobs/{_JOB_ID}/cancel", self.cancel)
        app.router.add_get(f"/jobs/{_JOB_ID}/preview.jpg", self.preview)
        app.router.add_get(f"/jobs/{_JOB_ID}/image/{{sha:[0-9a-f]{{64}}}}", self.image)
        app.router.add_get("/static/{name}", self.static_file)
        app.router.add_get("/favicon.ico", self.favicon)

    async def background(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: settle finished web jobs while the server runs."""
        task = asyncio.create_task(self._settle_loop(), name="webui-settle")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # -- rendering --------------------------------------------------------------------------

    def _render(
        self, template: str, *, status: int = 200, cookie: str | None = None, **ctx: Any
    ) -> web.Response:
        body = self.env.get_template(template).render(**ctx)
        resp = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
        resp.headers.update(SECURITY_HEADERS)
        resp.headers["Cache-Control"] = "no-store"  # per-browser content and a CSRF token
        if cookie is not None:
            self.identity.set_cookie(resp, cookie, secure=self.secure_cookie)
        return resp

    async def _playground(
        self,
        owner: int,
        *,
        cookie: str | None = None,
        error: str | None = None,
        code: str | None = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> web.Response:
        s = self.settings
        recent = await self.store.history(owner, Viewer(owner, None), limit=5)
        values = values or {}
        return self._render(
            "playground.html",
            status=status,
            cookie=cookie,
            csrf=self.identity.csrf_token(owner),
            error=error,
            error_code=code,
            min_size=MIN_SIZE,
            max_size=s.max_size,
            size=values.get("size") or str(min(s.default_size, s.max_size)),
            presets=PRESETS,
            preset=values.get("preset") or s.default_preset,
            strength=values.get("strength") or "1.0",
            min_strength=MIN_STRENGTH,
            max_strength=MAX_STRENGTH,
            preserve_colors=values.get("preserve_colors") in ("on", "1", "true"),
            max_mb=f"{s.max_upload_bytes / 1_000_000:.1f}",
            accepted=ACCEPTED_TYPES,
            recent=[(job, self._headline(job, None, None)) for job in recent],
        )

    # -- the playground ---------------------------------------------------------------------

    async def playground(self, request: web.Request) -> web.Response:
        owner = self.identity.owner_of(request)
        cookie = None
        if owner is None:
            owner, cookie = self.identity.mint()
        return await self._playground(owner, cookie=cookie)

    async def submit(self, request: web.Request) -> web.StreamResponse:
        """Queue a job from the form: the same order as /stylize — limits first (one read),
        then the upload checks, then decoding off the loop, then `store.submit`."""
        owner = self.identity.owner_of(request)
        if owner is None or not self.identity.origin_ok(request):
            return self._forbidden()
        s = self.settings
        values: dict[str, str] = {}
        try:
            form = await read_form(request, max_bytes=s.max_upload_bytes)
            values = form.fields
            if not self.identity.csrf_ok(request, owner, form.fields.get("csrf")):
                return self._forbidden()
            params = self._params(form.fields)
            await self.store.admit(owner, None, None, params.size)
            uploads = checked_uploads(form, max_bytes=s.max_upload_bytes)
            items = [(role, up.filename, up.data) for role, up in uploads]
            async with self.intake:
                images = await asyncio.to_thread(decode_all, items, max_pixels=s.max_image_pixels)
            blobs = [ImageBlob(i.data, i.fmt, i.width, i.height) for i in images]
            job = await self.store.submit(owner, None, None, blobs[0], [(blobs[1], 1.0)], params)
        except InputRejected as exc:
            status = 413 if exc.code == "too_large_bytes" else 400
            return await self._refused(owner, exc.message, exc.code, values, status)
        except QueueRefused as exc:
            status = STATUS_OF_REFUSAL.get(exc.code, 400)
            return await self._refused(owner, exc.message, exc.code, values, status)
        self.pending.add(job.id)
        log.info("job %d queued from the web playground", job.id)
        raise web.HTTPSeeOther(f"/jobs/{job.id}")

    async def _refused(
        self, owner: int, message: str, code: str, values: dict[str, str], status: int
    ) -> web.Response:
        # The page is rendered with 200 (the form again, with the reason above it, as form
        # frameworks do: a browser logs any 4xx document as a console error); the status
        # the request deserves is in `X-NST-Status`, the reason's code in `X-NST-Error`.
        resp = await self._playground(owner, error=message, code=code, values=values)
        resp.headers["X-NST-Error"] = code
        resp.headers["X-NST-Status"] = str(status)
        return resp

    def _forbidden(self) -> web.Response:
        resp = self._render("message.html", status=403, title="Refused", message=CSRF_MESSAGE)
        resp.headers["X-NST-Error"] = "csrf"
        return resp

    def _params(self, fields: dict[str, str]) -> JobParams:
        s = self.settings
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

    # -- a job ------------------------------------------------------------------------------

    async def _visible_job(self, request: web.Request) -> Job | None:
        owner = self.identity.owner_of(request)
        if owner is None:
            return None
        job = await self.store.get_job(int(request.match_info["id"]))
        if job is None or not can_see(job, Viewer(owner, None)):
            return None
        return job

    def _unseen(self, request: web.Request, kind: str) -> web.Response:
        message = unseen_message(int(request.match_info["id"]))
        if kind == "html":
            return self._render("message.html", status=404, title="No such job", message=message)
        if kind == "json":
            resp = web.json_response({"error": message}, status=404)
        else:
            resp = web.Response(text=message, status=404)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    async def job_page(self, request: web.Request) -> web.Response:
        job = await self._visible_job(request)
        if job is None:
            return self._unseen(request, "html")
        state = await self._state(job)
        owner = job.owner_id
        return self._render(
            "job.html",
            job=job,
            state=state,
            csrf=self.identity.csrf_token(owner),
            content_url=self._image_url(job, job.content_sha),
            style_urls=[self._image_url(job, sha) for sha, _ in job.styles],
        )

    async def job_json(self, request: web.Request) -> web.Response:
        job = await self._visible_job(request)
        if job is None:
            return self._unseen(request, "json")
        if job.finished and job.id in self.pending:
            await self._settle(job.id)
        resp = web.json_response(await self._state(job))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        owner = self.identity.owner_of(request)
        if owner is None or not self.identity.origin_ok(request):
            return self._forbidden()
        form = await request.post()  # a tiny urlencoded form (aiohttp caps bodies at 1 MiB)
        token = form.get("csrf")
        if not self.identity.csrf_ok(request, owner, token if isinstance(token, str) else None):
            return self._forbidden()
        job_id = int(request.match_info["id"])
        job = await self._visible_job(request)
        if job is None:
            return self._unseen(request, "html")
        with contextlib.suppress(Exception):  # already finished: the page shows the outcome
            await self.store.request_cancel(job_id, Viewer(owner, None))
        raise web.HTTPSeeOther(f"/jobs/{job_id}")

    async def preview(self, request: web.Request) -> web.Response:
        job = await self._visible_job(request)
        stored = await self.store.get_image(job.preview_sha) if job and job.preview_sha else None
        if stored is None:
            return self._unseen(request, "image")
        resp = web.Response(
            body=stored.data, content_type=IMAGE_TYPES.get(stored.fmt, "image/jpeg")
        )
        resp.headers["Cache-Control"] = "no-store"  # replaced every few seconds while it runs
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    async def image(self, request: web.Request) -> web.Response:
        job = await self._visible_job(request)
        sha = request.match_info["sha"]
        if job is None or sha not in {job.result_sha, job.content_sha, *(s for s, _ in job.styles)}:
            return self._unseen(request, "image")
        etag = f'"{sha}"'
        headers = {"Cache-Control": IMMUTABLE, "ETag": etag, "X-Content-Type-Options": "nosniff"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        stored = await self.store.get_image(sha)
        if stored is None:
            return self._unseen(request, "image")
        ctype = IMAGE_TYPES.get(stored.fmt, "application/octet-stream")
        if "download" in request.query:
            ext = "jpg" if stored.fmt == "jpeg" else stored.fmt
            stem = f"pastiche-{job.id}" if sha == job.result_sha else f"job-{job.id}-input"
            headers["Content-Disposition"] = f'attachment; filename="{stem}.{ext}"'
        return web.Response(body=stored.data, content_type=ctype, headers=headers)

    async def static_file(self, request: web.Request) -> web.Response:
        found = self.static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, ctype = found
        resp = web.Response(body=body, content_type=ctype, charset="utf-8")
        resp.headers["Cache-Control"] = "public, max-age=86400"  # URLs carry ?v=<hash>
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    async def favicon(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"Cache-Control": "public, max-age=86400"})

    # -- state shown on the job page ---------------------------------------------------------

    @staticmethod
    def _image_url(job: Job, sha: str) -> str:
        return f"/jobs/{job.id}/image/{sha}"

    async def _state(self, job: Job) -> dict[str, Any]:
        info = await self.store.queue_info(job.id) if job.status == JobStatus.QUEUED else None
        online = None
        if job.status == JobStatus.QUEUED:
            online = await self.store.executors_online(stale_after_s=self.settings.stale_after_s)
        p = job.progress
        result = None
        if job.status == JobStatus.SUCCEEDED and job.result_sha:
            result = self._image_url(job, job.result_sha)
        preview = None
        if job.preview_sha and result is None:
            preview = f"/jobs/{job.id}/preview.jpg?v={job.preview_sha[:16]}"
        return {
            "id": job.id,
            "status": job.status.value,
            "finished": job.finished,
            "headline": self._headline(job, info, online),
            "position": info.position if info else None,
            "queued": info.total_queued if info else None,
            "step": p.step,
            "total": p.total,
            "scale": p.scale,
            "scales": p.scales,
            "eta_s": p.eta_s if job.status == JobStatus.RUNNING else (info.eta_s if info else None),
            "preview": preview,
            "result": result,
            "download": f"{result}?download=1" if result else None,
            "error": job.error_message if job.status == JobStatus.FAILED else None,
            "cancellable": not job.finished and not job.cancel_requested,
        }

    @staticmethod
    def _headline(job: Job, info: Any, online: int | None) -> str:
        p = job.progress
        if job.status == JobStatus.QUEUED:
            text = "Queued"
            if info is not None and info.position:
                text += f": position {info.position} of {info.total_queued}"
                if info.eta_s is not None:
                    text += f", result in about {_duration(info.eta_s)}"
            if online == 0:
                text += " (no executor is online yet)"
            return text
        if job.status == JobStatus.RUNNING:
            if job.cancel_requested:
                return "Cancelling…"
            if not p.total:
                return "Running: starting the engine…"
            text = f"Running: step {p.step} of {p.total}"
            if p.scales > 1:
                text += f" (scale {p.scale} of {p.scales})"
            if p.eta_s is not None:
                text += f", about {_duration(p.eta_s)} left"
            return text
        if job.status == JobStatus.SUCCEEDED:
            took = f" in {_duration(job.elapsed_s)}" if job.elapsed_s else ""
            return f"Done{took}."
        if job.status == JobStatus.FAILED:
            return f"Failed: {job.error_message or 'unknown error'}"
        return "Cancelled."

    # -- settling web jobs -------------------------------------------------------------------

    async def _settle_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settle_interval_s)
            for job_id in list(self.pending):
                try:
                    await self._settle(job_id)
                except Exception as exc:  # the next round tries again
                    log.warning("web job %d: settling failed: %s", job_id, type(exc).__name__)

    async def _settle(self, job_id: int) -> None:
        """A finished web job has nowhere to be posted: record its delivery as "none" (so no
        Discord delivery takes it) and tell the metrics once."""
        job = await self.store.get_job(job_id)
        if job is None:
            self.pending.discard(job_id)
            return
        if not job.finished or job_id not in self.pending:
            return
        self.pending.discard(job_id)
        if await self.store.lease_delivery(job_id, HOLDER, lease_s=30, web=True) is not None:
            await self.store.mark_delivered(job_id, HOLDER, None, None, "none")
        if self.on_finished is not None:
            self.on_finished(job)
