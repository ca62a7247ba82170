"""`WebUI`: what the web face's handlers share (store, settings, identity, pages, limits) and
its routes; the handlers themselves live in `playground`, `jobpages` and `gallery`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.store import Job, Store
from bot.webui.gallery import Gallery
from bot.webui.identity import Identity
from bot.webui.images import Thumbnails
from bot.webui.jobpages import JobPages
from bot.webui.limits import SubmitLimit
from bot.webui.pages import Pages
from bot.webui.playground import Playground
from bot.webui.settling import Settler

if TYPE_CHECKING:
    from bot.settings import Settings

CSRF_MESSAGE = "This form has expired or was sent from another site. Reload the page and try again."
IP_WINDOW_S = 3600.0  # WEB_JOBS_PER_IP_HOUR counts jobs in this sliding window


class WebUI:
    """Everything the web face needs, bound to one store and one set of settings."""

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
        self.pages = Pages()
        self.intake = asyncio.Semaphore(settings.intake_concurrency)
        self.ip_limit = SubmitLimit(settings.web_jobs_per_ip_hour, IP_WINDOW_S)
        self.thumbnails = Thumbnails(store)
        self.settler = Settler(store, on_finished=on_finished)
        self.secure_cookie = str(settings.web_public_url or "").startswith("https://")
        self.handlers = (Playground(self), JobPages(self), Gallery(self))

    def add_routes(self, app: web.Application) -> None:
        """Mount every page of the web face on `app`."""
        for handler in self.handlers:
            handler.add_routes(app)
        app.router.add_get("/static/{name}", self.pages.static_file)
        app.router.add_get("/favicon.ico", self.pages.favicon)

    async def background(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: settle finished web jobs while the server runs."""
        task = asyncio.create_task(self.settler.run(), name="webui-settle")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def render(
        self, template: str, *, status: int = 200, cookie: str | None = None, **ctx: Any
    ) -> web.Response:
        """A page (`bot.webui.pages`), setting the client cookie when `cookie` is given."""
        resp = self.pages.html(template, status=status, **ctx)
        if cookie is not None:
            self.identity.set_cookie(resp, cookie, secure=self.secure_cookie)
        return resp

    async def button_owner(self, request: web.Request) -> int | None:
        """The web owner posting a one-button form (cancel, forget): None unless the request
        carries this browser's cookie and CSRF token and comes from our origin."""
        owner = self.identity.owner_of(request)
        if owner is None or not self.identity.origin_ok(request):
            return None
        fields = await request.post()  # a tiny urlencoded form (aiohttp caps bodies at 1 MiB)
        token = fields.get("csrf")
        if not self.identity.csrf_ok(request, owner, token if isinstance(token, str) else None):
            return None
        return owner

    def forbidden(self) -> web.Response:
        """The answer to a POST without this browser's CSRF token or from another origin."""
        resp = self.render("message.html", status=403, title="Refused", message=CSRF_MESSAGE)
        resp.headers["X-NST-Error"] = "csrf"
        return resp
