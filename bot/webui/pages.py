"""Rendering the web face's HTML: the Jinja2 environment, static files and response headers."""

from __future__ import annotations

import hashlib
import math
import re
from importlib import resources
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

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


def discord_md(text: str) -> Markup:
    """The bot's messages use Discord markdown: `code` and **bold** become HTML (escaped)."""
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    return Markup(html)


def duration(seconds: float | None) -> str:
    """`42 s` or `3 min 05 s` ("" when unknown)."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


class Pages:
    """Templates and static files of the package, loaded once."""

    def __init__(self) -> None:
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

    def html(self, template: str, *, status: int = 200, **ctx: Any) -> web.Response:
        """A rendered page with the security headers; never cached (it may carry a CSRF
        token or one browser's jobs)."""
        body = self.env.get_template(template).render(**ctx)
        resp = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
        resp.headers.update(SECURITY_HEADERS)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    async def static_file(self, request: web.Request) -> web.Response:
        """GET /static/{name}: CSS, JS and the icon (URLs carry ?v=<hash>)."""
        found = self.static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, ctype = found
        resp = web.Response(body=body, content_type=ctype, charset="utf-8")
        resp.headers["Cache-Control"] = "public, max-age=86400"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    async def favicon(self, request: web.Request) -> web.Response:
        """GET /favicon.ico: nothing (the pages link the SVG icon)."""
        return web.Response(status=204, headers={"Cache-Control": "public, max-age=86400"})
