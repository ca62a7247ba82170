"""A playground job's pages: the live job page, its JSON (polled), cancel, preview, images."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.store import Job, JobStatus, QueueInfo, Viewer, can_see, unseen_message
from bot.webui.images import IMAGE_TYPES, stored_image_response
from bot.webui.pages import duration

if TYPE_CHECKING:
    from bot.webui.app import WebUI

JOB_ID = r"{id:\d{1,18}}"
SHA = r"{sha:[0-9a-f]{64}}"


def headline(job: Job, info: QueueInfo | None, online: int | None) -> str:
    """One line on where a job is: queue position, progress, or its outcome."""
    p = job.progress
    if job.status == JobStatus.QUEUED:
        text = "Queued"
        if info is not None and info.position:
            text += f": position {info.position} of {info.total_queued}"
            if info.eta_s is not None:
                text += f", result in about {duration(info.eta_s)}"
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
            text += f", about {duration(p.eta_s)} left"
        return text
    if job.status == JobStatus.SUCCEEDED:
        took = f" in {duration(job.elapsed_s)}" if job.elapsed_s else ""
        return f"Done{took}."
    if job.status == JobStatus.FAILED:
        return f"Failed: {job.error_message or 'unknown error'}"
    return "Cancelled."


def image_url(job: Job, sha: str) -> str:
    """Where a playground job's image (input or result) is served."""
    return f"/jobs/{job.id}/image/{sha}"


class JobPages:
    """GET /jobs/{id}, /jobs/{id}.json, /jobs/{id}/preview.jpg, /jobs/{id}/image/{sha};
    POST /jobs/{id}/cancel. Only the browser that made a job sees it."""

    def __init__(self, ui: WebUI) -> None:
        self.ui = ui

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(f"/jobs/{JOB_ID}", self.page)
        app.router.add_get(f"/jobs/{JOB_ID}.json", self.json)
        app.router.add_post(f"/jobs/{JOB_ID}/cancel", self.cancel)
        app.router.add_get(f"/jobs/{JOB_ID}/preview.jpg", self.preview)
        app.router.add_get(f"/jobs/{JOB_ID}/image/{SHA}", self.image)

    async def _visible_job(self, request: web.Request) -> Job | None:
        owner = self.ui.identity.owner_of(request)
        if owner is None:
            return None
        job = await self.ui.store.get_job(int(request.match_info["id"]))
        if job is None or not can_see(job, Viewer(owner, None)):
            return None
        return job

    def _unseen(self, request: web.Request, kind: str) -> web.Response:
        message = unseen_message(int(request.match_info["id"]))
        if kind == "html":
            return self.ui.render("message.html", status=404, title="No such job", message=message)
        if kind == "json":
            resp = web.json_response({"error": message}, status=404)
        else:
            resp = web.Response(text=message, status=404)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    async def page(self, request: web.Request) -> web.Response:
        job = await self._visible_job(request)
        if job is None:
            return self._unseen(request, "html")
        return self.ui.render(
            "job.html",
            job=job,
            state=await self._state(job),
            csrf=self.ui.identity.csrf_token(job.owner_id),
            content_url=image_url(job, job.content_sha),
            style_urls=[image_url(job, sha) for sha, _ in job.styles],
        )

    async def json(self, request: web.Request) -> web.Response:
        job = await self._visible_job(request)
        if job is None:
            return self._unseen(request, "json")
        if job.finished:
            self.ui.settler.poke()
        resp = web.json_response(await self._state(job))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        ui = self.ui
        owner = await ui.button_owner(request)
        if owner is None:
            return ui.forbidden()
        job_id = int(request.match_info["id"])
        job = await self._visible_job(request)
        if job is None:
            return self._unseen(request, "html")
        with contextlib.suppress(Exception):  # already finished: the page shows the outcome
            await ui.store.request_cancel(job_id, Viewer(owner, None))
        raise web.HTTPSeeOther(f"/jobs/{job_id}")

    async def preview(self, request: web.Request) -> web.Response:
        job = await self._visible_job(request)
        store = self.ui.store
        stored = await store.get_image(job.preview_sha) if job and job.preview_sha else None
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
        stem = f"pastiche-{job.id}" if sha == job.result_sha else f"job-{job.id}-input"
        resp = await stored_image_response(request, self.ui.store, sha, download_stem=stem)
        return resp or self._unseen(request, "image")

    async def _state(self, job: Job) -> dict[str, Any]:
        store = self.ui.store
        info = await store.queue_info(job.id) if job.status == JobStatus.QUEUED else None
        online = None
        if job.status == JobStatus.QUEUED:
            online = await store.executors_online(stale_after_s=self.ui.settings.stale_after_s)
        p = job.progress
        result = None
        if job.status == JobStatus.SUCCEEDED and job.result_sha:
            result = image_url(job, job.result_sha)
        preview = None
        if job.preview_sha and result is None:
            preview = f"/jobs/{job.id}/preview.jpg?v={job.preview_sha[:16]}"
        return {
            "id": job.id,
            "status": job.status.value,
            "finished": job.finished,
            "headline": headline(job, info, online),
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
