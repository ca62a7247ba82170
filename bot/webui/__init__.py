"""The web face (issue 12): a local playground on the bot's own aiohttp server.

    webui.setup(app, store, settings, *, secret=None, on_finished=None)

mounts, next to `/healthz` and `/metrics`:

    GET  /                         the playground form (sets the client cookie)
    POST /jobs                     submit: CSRF + Origin, same caps/checks/limits as /stylize
    GET  /jobs/{id}                the job page: queue position, progress, preview, result
    GET  /jobs/{id}.json           the same as JSON, polled by the page about once a second
    POST /jobs/{id}/cancel         cancel (owner, CSRF)
    GET  /jobs/{id}/preview.jpg    latest preview (Cache-Control: no-store)
    GET  /jobs/{id}/image/{sha}    result or input image, immutable by sha (long max-age)
    POST /forget                   delete this browser's jobs and images (CSRF), new identity
    GET  /g/{guild}                the server's public gallery, newest first (?before=<id>)
    GET  /g/{guild}/{job}          one pastiche of the gallery
    GET  /g/{guild}/{job}/image/{sha}        its full images; …/thumb/{side}/{sha} thumbnails
    GET  /static/{name}            CSS and JS (no build step)

Modules: `app` (WebUI: shared state, routes), `playground` (form, submit, forget),
`jobpages` (a job's live page), `gallery`, `images` (caching headers, thumbnails), `pages`
(Jinja2, static files), `limits` (per-address submits), `settling` (finished web jobs),
`identity` (cookie, CSRF), `intake` (the multipart form).

Jobs are owned by a local web user (`bot.webui.identity`: a negative id per browser, in a
signed cookie) with guild None, so only that browser sees them (`bot.store.visibility`). The
gallery shows a guild's public Discord jobs once its admins ran `/config gallery:true`. The
package is torch-free; Pillow runs only in worker threads (`asyncio.to_thread`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from bot.store import Job, Store
from bot.webui.app import WebUI
from bot.webui.identity import Identity, load_or_create_secret

if TYPE_CHECKING:
    from bot.settings import Settings

WEBUI_KEY: web.AppKey[WebUI] = web.AppKey("webui", WebUI)

__all__ = ["WEBUI_KEY", "WebUI", "setup"]


def setup(
    app: web.Application,
    store: Store,
    settings: Settings,
    *,
    secret: bytes | None = None,
    on_finished: Callable[[Job], None] | None = None,
) -> WebUI:
    """Mount the web face on `app`; `on_finished(job)` is called once per web job that ends
    (the bot's metrics), since the Discord side never delivers these jobs."""
    public_url = settings.web_public_url
    identity = Identity(
        secret or load_or_create_secret(settings.data_dir), public_url=public_url or None
    )
    ui = WebUI(store, settings, identity, on_finished=on_finished)
    app[WEBUI_KEY] = ui
    ui.add_routes(app)
    app.cleanup_ctx.append(ui.background)
    return ui
