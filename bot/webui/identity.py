"""Who a browser is: a signed cookie naming a local web user, and that user's CSRF token.

A web user is a random NEGATIVE owner id (Discord ids are positive snowflakes, so the two can
never meet), minted on the first visit and kept in an HMAC-signed, HttpOnly, SameSite=Lax
cookie. The store's per-user queue limit and cooldown then apply to it like to any Discord
user, and the visibility policy sees it as `Viewer(user_id=<that id>, guild_id=None)`: its jobs
are its own. The CSRF token is an HMAC of the same id under the same secret (one per browser
session, nothing kept on the server); POSTs must carry it and, when the browser sends an
Origin, come from this site.

The secret is 32 random bytes kept in `DATA_DIR/web-secret` (created on first start, mode
0600), so cookies survive restarts; deleting the file logs every browser out of its jobs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import yarl
from aiohttp import web

from bot.store import is_web_owner

COOKIE = "nst_client"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
SECRET_FILE = "web-secret"
_ID_BITS = 62  # fits a signed 64-bit column with room; negated it stays far from 0


def load_or_create_secret(data_dir: Path) -> bytes:
    """The cookie secret of this installation (created once in `data_dir`)."""
    path = Path(data_dir) / SECRET_FILE
    try:
        raw = path.read_bytes()
        if len(raw) >= 32:
            return raw
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(raw)
    return raw


class Identity:
    """Mints and checks client cookies and CSRF tokens under one secret."""

    def __init__(self, secret: bytes, *, public_url: str | None = None) -> None:
        if len(secret) < 16:
            raise ValueError("the web secret must be at least 16 bytes")
        self._secret = secret
        self._public_origin = _origin(public_url) if public_url else None

    def _sign(self, purpose: str, n: int) -> str:
        msg = f"{purpose}:{n}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:32]

    def mint(self) -> tuple[int, str]:
        """A new web user: (owner id, cookie value)."""
        n = secrets.randbits(_ID_BITS) + 1
        assert is_web_owner(-n)  # what keeps Discord's courier away from web jobs
        return -n, f"{n}.{self._sign('client', n)}"

    def owner_of(self, request: web.Request) -> int | None:
        """The web user id of a request's valid cookie, else None."""
        raw = request.cookies.get(COOKIE, "")
        n_text, _, sig = raw.partition(".")
        if not n_text.isdigit() or len(n_text) > 20:
            return None
        n = int(n_text)
        if not 0 < n <= 1 << _ID_BITS:
            return None
        if not hmac.compare_digest(sig, self._sign("client", n)):
            return None
        return -n

    def csrf_token(self, owner_id: int) -> str:
        return self._sign("csrf", -owner_id)

    def csrf_ok(self, request: web.Request, owner_id: int | None, token: str | None) -> bool:
        """The POST carries this client's token and, if the browser named one, our origin."""
        if owner_id is None or not token:
            return False
        if not hmac.compare_digest(token, self.csrf_token(owner_id)):
            return False
        return self.origin_ok(request)

    def origin_ok(self, request: web.Request) -> bool:
        sent = request.headers.get("Origin")
        if sent is None:
            referer = request.headers.get("Referer")
            if referer is None:
                return True  # not a browser, or one that sends neither: the token decides
            sent = _origin(referer)
        allowed = {f"{request.scheme}://{request.host}".lower()}
        if self._public_origin:
            allowed.add(self._public_origin)
        return sent.lower() in allowed

    @staticmethod
    def set_cookie(response: web.StreamResponse, value: str, *, secure: bool) -> None:
        response.set_cookie(
            COOKIE,
            value,
            max_age=COOKIE_MAX_AGE_S,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=secure,
        )


def _origin(url: str) -> str:
    try:
        parsed = yarl.URL(url)
    except (ValueError, TypeError):
        return "null"
    if not parsed.scheme or not parsed.host:
        return "null"
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    port = "" if parsed.port in (None, default) else f":{parsed.port}"
    return f"{parsed.scheme}://{parsed.host}{port}".lower()
