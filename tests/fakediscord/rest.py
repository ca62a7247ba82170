"""REST API v10 routes, and the handlers for login, command sync, channel messages, DMs, users
and guilds (interaction callbacks and webhooks are in webhooks.py)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .faults import Reply
from .installs import check_bot_access
from .messages import ApiError, check_nonce
from .payloads import FLAG_EPHEMERAL
from .records import RecordedCall
from .webhooks import InteractionHandlers

if TYPE_CHECKING:
    from .server import FakeDiscord

Handler = Any


def routes(fake: FakeDiscord) -> list[tuple[str, str, Handler]]:
    """(method, path template relative to /api/v10, handler)."""
    h = _Handlers(fake)
    w = InteractionHandlers(fake)
    app_cmds = "/applications/{app}/commands"
    guild_cmds = "/applications/{app}/guilds/{guild}/commands"
    hook = "/webhooks/{app}/{token}"
    return [
        ("GET", "/users/@me", h.me),
        ("GET", "/oauth2/applications/@me", h.application),
        ("GET", "/applications/@me", h.application),
        ("GET", "/gateway", h.gateway),
        ("GET", "/gateway/bot", h.gateway),
        ("GET", app_cmds, h.list_commands),
        ("PUT", app_cmds, h.put_commands),
        ("POST", app_cmds, h.post_command),
        ("GET", guild_cmds, h.list_commands),
        ("PUT", guild_cmds, h.put_commands),
        ("POST", guild_cmds, h.post_command),
        ("GET", app_cmds + "/{cmd}", h.one_command),
        ("PATCH", app_cmds + "/{cmd}", h.one_command),
        ("DELETE", app_cmds + "/{cmd}", h.one_command),
        ("GET", guild_cmds + "/{cmd}", h.one_command),
        ("PATCH", guild_cmds + "/{cmd}", h.one_command),
        ("DELETE", guild_cmds + "/{cmd}", h.one_command),
        ("POST", "/interactions/{iid}/{token}/callback", w.callback),
        ("POST", hook, w.followup),
        ("GET", hook + "/messages/{mid}", w.hook_get),
        ("PATCH", hook + "/messages/{mid}", w.hook_edit),
        ("DELETE", hook + "/messages/{mid}", w.hook_delete),
        ("GET", "/channels/{cid}", h.get_channel),
        ("GET", "/channels/{cid}/messages", h.history),
        ("POST", "/channels/{cid}/messages", h.send),
        ("GET", "/channels/{cid}/messages/{mid}", h.get_message),
        ("PATCH", "/channels/{cid}/messages/{mid}", h.edit_message),
        ("DELETE", "/channels/{cid}/messages/{mid}", h.delete_message),
        ("POST", "/channels/{cid}/typing", h.typing),
        ("POST", "/users/@me/channels", h.open_dm),
        ("GET", "/users/{uid}", h.get_user),
        ("GET", "/guilds/{gid}", h.get_guild),
        ("GET", "/guilds/{gid}/members/{uid}", h.get_member),
    ]


class _Handlers:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    # -- login -----------------------------------------------------------------------------
    async def me(self, request: web.Request, call: RecordedCall) -> Reply:
        return Reply(200, {**self.fake.bot_user, "verified": True, "mfa_enabled": False})

    async def application(self, request: web.Request, call: RecordedCall) -> Reply:
        f = self.fake
        return Reply(
            200,
            {
                "id": f.app_id,
                "name": f.bot_user["username"],
                "description": "fakediscord application",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": f.owner,
                "team": None,
                "flags": 0,
                "summary": "",
                "bot": f.bot_user,
            },
        )

    async def gateway(self, request: web.Request, call: RecordedCall) -> Reply:
        f = self.fake
        return Reply(
            200,
            {
                "url": f.gateway_url,
                "shards": f.shard_count,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": max(0, 1000 - f.gateway.identifies),
                    "reset_after": 24 * 3600 * 1000 if f.gateway.identifies else 0,
                    "max_concurrency": f.max_concurrency,
                },
            },
        )

    # -- commands --------------------------------------------------------------------------
    def _bucket(self, request: web.Request) -> dict[str, dict[str, Any]]:
        f = self.fake
        if request.match_info["app"] != f.app_id:
            raise ApiError(403, 50001, "Missing Access")
        gid = request.match_info.get("guild")
        if gid is None:
            return f.commands
        if gid not in f.guilds:
            raise ApiError(403, 50001, "Missing Access")
        return f.guild_commands.setdefault(gid, {})

    def _stored_command(self, request: web.Request, body: dict[str, Any], old: dict) -> dict:
        f = self.fake
        if not isinstance(body, dict) or not body.get("name"):
            raise ApiError(400, 50035, "Invalid Form Body: a command needs a name")
        ctype = body.get("type", 1)
        prev = old.get(body["name"])
        cmd = {
            "type": ctype,
            "description": "" if ctype != 1 else body.get("description", ""),
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **body,
            "id": prev["id"] if prev else f.ids.next(),  # Discord keeps ids across syncs
            "application_id": f.app_id,
            "version": f.ids.next(),
        }
        if "guild" in request.match_info:
            cmd["guild_id"] = request.match_info["guild"]
        return cmd

    async def list_commands(self, request: web.Request, call: RecordedCall) -> Reply:
        return Reply(200, list(self._bucket(request).values()))

    async def put_commands(self, request: web.Request, call: RecordedCall) -> Reply:
        bucket = self._bucket(request)
        body = call.json or []
        if not isinstance(body, list):
            raise ApiError(400, 50035, "Invalid Form Body: expected a list of commands")
        new = {}
        for item in body:
            cmd = self._stored_command(request, item, bucket)
            new[cmd["name"]] = cmd
        bucket.clear()
        bucket.update(new)
        return Reply(200, list(new.values()))

    async def post_command(self, request: web.Request, call: RecordedCall) -> Reply:
        bucket = self._bucket(request)
        cmd = self._stored_command(request, call.json, bucket)
        created = cmd["name"] not in bucket
        bucket[cmd["name"]] = cmd
        return Reply(201 if created else 200, cmd)

    async def one_command(self, request: web.Request, call: RecordedCall) -> Reply:
        bucket = self._bucket(request)
        cid = request.match_info["cmd"]
        name = next((n for n, c in bucket.items() if c["id"] == cid), None)
        if name is None:
            raise ApiError(404, 10063, "Unknown application command")
        if request.method == "DELETE":
            del bucket[name]
            return Reply(204)
        if request.method == "PATCH":
            cmd = self._stored_command(request, {**bucket.pop(name), **(call.json or {})}, {})
            cmd["id"] = cid  # an edit keeps the command's id
            bucket[cmd["name"]] = cmd
            return Reply(200, cmd)
        return Reply(200, bucket[name])

    # -- channels --------------------------------------------------------------------------
    def _channel(self, cid: str) -> dict[str, Any]:
        ch = self.fake.channels.get(cid)
        if ch is None:
            raise ApiError(404, 10003, "Unknown Channel")
        check_bot_access(self.fake, ch)  # a guild without the bot, a group DM: 403 50001
        return ch

    def _writable(self, cid: str) -> dict[str, Any]:
        f = self.fake
        ch = self._channel(cid)
        if cid in f.forbidden_channels:
            code = f.forbidden_channels[cid]
            text = {50001: "Missing Access", 50013: "Missing Permissions"}.get(code, "Forbidden")
            raise ApiError(403, code, text)
        if ch["type"] == 1 and ch["recipients"][0]["id"] in f.closed_dms:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        return ch

    async def get_channel(self, request: web.Request, call: RecordedCall) -> Reply:
        cid = request.match_info["cid"]
        ch = self._channel(cid)
        if cid in self.fake.forbidden_channels and self.fake.forbidden_channels[cid] == 50001:
            raise ApiError(403, 50001, "Missing Access")
        return Reply(200, ch)

    async def history(self, request: web.Request, call: RecordedCall) -> Reply:
        cid = request.match_info["cid"]
        self._channel(cid)
        limit = min(100, int(request.query.get("limit", 50)))
        msgs = self.fake.channel_messages(cid)
        before, after = request.query.get("before"), request.query.get("after")
        if before:
            msgs = [m for m in msgs if int(m.id) < int(before)]
        if after:
            msgs = [m for m in msgs if int(m.id) > int(after)]
        msgs = [m for m in msgs if not m.ephemeral]
        newest_first = list(reversed(msgs))[:limit]
        return Reply(200, [m.payload for m in newest_first])

    async def send(self, request: web.Request, call: RecordedCall) -> Reply:
        f = self.fake
        cid = request.match_info["cid"]
        ch = self._writable(cid)
        body = dict(call.json or {})
        body["flags"] = int(body.get("flags") or 0) & ~FLAG_EPHEMERAL  # only interactions
        nonce = check_nonce(body)
        key = (cid, f.bot_user["id"], nonce) if nonce is not None else None
        if key is not None and body.get("enforce_nonce"):
            seen = f.store.nonces.get(key)
            if seen is not None and time.monotonic() - seen[1] <= f.nonce_window_s:
                first = f.store.messages[seen[0]]
                if first.deleted:  # Discord does not re-create a deleted message
                    call.note = f"nonce {nonce!r}: message {first.id} was deleted"
                    raise ApiError(404, 10008, "Unknown Message")
                call.note = f"nonce {nonce!r}: duplicate of message {first.id}, nothing created"
                return Reply(200, first.payload)
        msg = f.store.create(
            cid, f.bot_user, body, call.files, guild_id=ch.get("guild_id"), users=f.users
        )
        if key is not None:
            f.store.nonces[key] = (msg.id, time.monotonic())
        return Reply(200, msg.payload)

    async def get_message(self, request: web.Request, call: RecordedCall) -> Reply:
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        self._channel(cid)
        return Reply(200, self.fake.store.get(mid, cid).payload)

    async def edit_message(self, request: web.Request, call: RecordedCall) -> Reply:
        f = self.fake
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        self._channel(cid)
        msg = f.store.get(mid, cid)
        if msg.author_id != f.app_id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        f.store.edit(msg, call.json or {}, call.files, users=f.users)
        return Reply(200, msg.payload)

    async def delete_message(self, request: web.Request, call: RecordedCall) -> Reply:
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        self._channel(cid)
        self.fake.store.get(mid, cid).deleted = True
        return Reply(204)

    async def typing(self, request: web.Request, call: RecordedCall) -> Reply:
        self._writable(request.match_info["cid"])
        return Reply(204)

    async def open_dm(self, request: web.Request, call: RecordedCall) -> Reply:
        f = self.fake
        uid = str((call.json or {}).get("recipient_id", ""))
        if uid not in f.users:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        return Reply(200, f.channels[f.dm_channel(uid)])

    async def get_user(self, request: web.Request, call: RecordedCall) -> Reply:
        user = self.fake.users.get(request.match_info["uid"])
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return Reply(200, user)

    async def get_guild(self, request: web.Request, call: RecordedCall) -> Reply:
        gid = request.match_info["gid"]
        if gid not in self.fake.guilds:
            raise ApiError(404, 10004, "Unknown Guild")
        if not self.fake.bot_in_guild(gid):
            raise ApiError(403, 50001, "Missing Access")
        payload = self.fake.guild_create_payload(gid)
        for key in ("channels", "members", "threads", "voice_states", "presences"):
            payload.pop(key, None)
        return Reply(200, payload)

    async def get_member(self, request: web.Request, call: RecordedCall) -> Reply:
        from .payloads import member_payload

        gid, uid = request.match_info["gid"], request.match_info["uid"]
        if gid not in self.fake.guilds:
            raise ApiError(404, 10004, "Unknown Guild")
        if not self.fake.bot_in_guild(gid):
            raise ApiError(403, 50001, "Missing Access")
        if uid not in self.fake.users:
            raise ApiError(404, 10007, "Unknown Member")
        return Reply(200, member_payload(self.fake.users[uid]))
