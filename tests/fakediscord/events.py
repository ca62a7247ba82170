"""What users do: INTERACTION_CREATE payloads for slash commands, context menus, buttons and
modals, built in the exact shape discord.py 2.7 parses, and sent over the gateway."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .components import ComponentsMixin
from .installs import GROUP_DM, where_payload
from .payloads import DEFAULT_PERMISSIONS, member_payload, new_interaction_token
from .records import StoredMessage

if TYPE_CHECKING:
    from .server import FakeDiscord


@dataclass
class FakeInteraction:
    """An interaction the fake sent, and what the bot did with it."""

    id: str
    token: str
    type: int
    payload: dict[str, Any]
    channel_id: str | None
    guild_id: str | None
    user: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    acked_type: int | None = None  # callback type the bot answered (4, 5, 6, 7, 8, 9)
    acked_after_s: float | None = None
    original_id: str | None = None  # the @original message
    followup_ids: list[str] = field(default_factory=list)
    component_message_id: str | None = None
    modal: dict[str, Any] | None = None  # data of a type 9 callback
    choices: list[dict[str, Any]] | None = None  # data of a type 8 callback
    forced_expiry: bool = False
    upload_limit: int | None = None  # its attachment_size_limit (None: the fake's)
    session_id: str | None = None  # the gateway session it was dispatched to
    shard: tuple[int, int] | None = None  # that session's (shard_id, num_shards); None: unsharded

    def expired(self, ttl_s: float) -> bool:
        return self.forced_expiry or time.monotonic() - self.created > ttl_s


class InteractionsMixin(ComponentsMixin):
    """The user-action half of FakeDiscord."""

    def __init__(self) -> None:
        self.interactions: dict[str, FakeInteraction] = {}
        self.tokens: dict[str, str] = {}  # interaction token -> interaction id

    # -- reading -------------------------------------------------------------------------------
    def interaction(self: FakeDiscord, iid: str) -> FakeInteraction:
        return self.interactions[str(iid)]

    def original(self: FakeDiscord, iid: str) -> StoredMessage | None:
        """The interaction's @original response message (None before the bot answers)."""
        mid = self.interactions[str(iid)].original_id
        return self.store.messages.get(mid) if mid else None

    def followups(self: FakeDiscord, iid: str) -> list[StoredMessage]:
        return [self.store.messages[m] for m in self.interactions[str(iid)].followup_ids]

    def expire_token(self: FakeDiscord, token_or_id: str) -> None:
        """Make an interaction token invalid now: its webhook calls answer 401, code 50027."""
        iid = self.tokens.get(token_or_id, token_or_id)
        self.interactions[str(iid)].forced_expiry = True

    # -- building ------------------------------------------------------------------------------
    def _envelope(
        self: FakeDiscord,
        itype: int,
        data: dict[str, Any],
        user: Any,
        channel: str | None,
        dm: bool,
        *,
        user_install: bool | None = None,
        upload_limit: int | None = None,
    ) -> tuple[dict[str, Any], FakeInteraction]:
        who = self.user(user)
        iid, token = self.ids.next(), new_interaction_token()
        payload: dict[str, Any] = {
            "id": iid,
            "application_id": self.app_id,
            "type": itype,
            "token": token,
            "version": 1,
            "attachment_size_limit": upload_limit or self.attachment_size_limit,
            "app_permissions": str(DEFAULT_PERMISSIONS),
            "locale": "en-US",
            "entitlements": [],
            "data": data,
        }
        if dm:
            cid, gid = self.dm_channel(who), None
            payload.update(
                user=who,
                channel_id=cid,
                channel={**self.channels[cid], "last_message_id": None, "flags": 0},
                context=1,
                authorizing_integration_owners={"1": who["id"]},
            )
        elif self.channels[cid := str(channel or self.channel_id)].get("type") == GROUP_DM:
            gid = None
            payload.update(user=who, channel_id=cid, channel=dict(self.channels[cid]))
            payload.update(where_payload(self, who, cid, user_install))
        else:
            gid = self.channels[cid]["guild_id"]
            payload.update(
                guild_id=gid,
                guild={"id": gid, "locale": "en-US", "features": []},
                guild_locale="en-US",
                channel_id=cid,
                channel=dict(self.channels[cid]),
                member=member_payload(who, permissions=self.permissions_of(who["id"])),
            )
            payload.update(where_payload(self, who, cid, user_install))
        inter = FakeInteraction(
            iid, token, itype, payload, cid, gid, who, upload_limit=upload_limit
        )
        self.interactions[iid] = inter
        self.tokens[token] = iid
        return payload, inter

    def _command_meta(self: FakeDiscord, name: str, ctype: int, gid: str | None) -> dict:
        """`id` (and `guild_id` for a guild command) as Discord puts them in `data`."""
        if gid and name in self.guild_commands.get(gid, {}):
            cmd = self.guild_commands[gid][name]
            if cmd.get("type", 1) == ctype:
                return {"id": cmd["id"], "guild_id": gid}
        cmd = self.commands.get(name)
        return {"id": cmd["id"] if cmd else self.ids.next()}

    def _option(self: FakeDiscord, name: str, value: Any, resolved: dict, gid: str | None) -> dict:
        if isinstance(value, dict) and "type" in value and "value" in value:
            return {"name": name, **value}
        if isinstance(value, dict) and "url" in value and "filename" in value:
            resolved.setdefault("attachments", {})[value["id"]] = value
            return {"name": name, "type": 11, "value": value["id"]}
        if isinstance(value, dict) and "username" in value:
            resolved.setdefault("users", {})[value["id"]] = value
            if gid:
                m = member_payload(value, permissions=self.permissions_of(value["id"]))
                del m["user"]
                resolved.setdefault("members", {})[value["id"]] = m
            return {"name": name, "type": 6, "value": value["id"]}
        if isinstance(value, dict) and "type" in value and "name" in value and "id" in value:
            perms = str(DEFAULT_PERMISSIONS)  # the invoking user's permissions in that channel
            resolved.setdefault("channels", {})[value["id"]] = {**value, "permissions": perms}
            return {"name": name, "type": 7, "value": value["id"]}
        if isinstance(value, bool):
            return {"name": name, "type": 5, "value": value}
        if isinstance(value, int):
            return {"name": name, "type": 4, "value": value}
        if isinstance(value, float):
            return {"name": name, "type": 10, "value": value}
        return {"name": name, "type": 3, "value": str(value)}

    # -- user actions --------------------------------------------------------------------------
    async def slash(
        self: FakeDiscord,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: Any = None,
        channel: str | None = None,
        guild: str | None = None,
        dm: bool = False,
        user_install: bool | None = None,
        attachment_size_limit: int | None = None,
    ) -> str:
        """Run `/name` (subcommands: "group sub"); returns the interaction id.

        Where: `channel` (default general of the default guild; a group DM from
        `add_group_dm`), or `guild` (its first channel), or `dm=True` (the user's DM with the
        bot; no guild, no member). `user_install`: see `installs.where_payload` (default: a
        user install exactly where the bot is not). `attachment_size_limit`: this
        interaction's upload limit (sent, and enforced on its responses and follow-ups).

        Option values: attachment payloads (from `add_attachment`) become type 11 with
        `resolved.attachments`, user payloads type 6 (+ `resolved.users/members`), channel
        payloads (`fake.channels[cid]`) type 7 (+ `resolved.channels`), bool/int/float/str types
        5/4/10/3, and `{"type": T, "value": V}` is passed through.
        """
        top, *subs = name.split()
        if guild is not None and channel is None:
            channel = self.guilds[str(guild)]["channels"][0]
        gid = None if dm else self.channels[str(channel or self.channel_id)].get("guild_id")
        resolved: dict[str, Any] = {}
        opts = [self._option(k, v, resolved, gid) for k, v in (options or {}).items()]
        for i, sub in reversed(list(enumerate(subs))):
            kind = 1 if i == len(subs) - 1 else 2
            opts = [{"name": sub, "type": kind, "options": opts}]
        data: dict[str, Any] = {"name": top, "type": 1, **self._command_meta(top, 1, gid)}
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        payload, inter = self._envelope(
            2,
            data,
            user,
            channel,
            dm,
            user_install=user_install,
            upload_limit=attachment_size_limit,
        )
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return inter.id

    async def autocomplete(
        self: FakeDiscord,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        user: Any = None,
        channel: str | None = None,
        guild: str | None = None,
        dm: bool = False,
    ) -> str:
        """Type into option `focused` of `/name` (type 4); the bot's choices land in
        `fake.interaction(iid).choices`. Where: as for `slash` (`channel`, `guild`, `dm`)."""
        top = name.split()[0]
        if guild is not None and channel is None:
            channel = self.guilds[str(guild)]["channels"][0]
        gid = None if dm else self.channels[str(channel or self.channel_id)].get("guild_id")
        opts = []
        for key, value in options.items():
            opt = {"name": key, "type": 3, "value": str(value)}
            if key == focused:
                opt["focused"] = True
            opts.append(opt)
        data = {"name": top, "type": 1, "options": opts, **self._command_meta(top, 1, gid)}
        payload, inter = self._envelope(4, data, user, channel, dm)
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return inter.id

    async def context_menu(
        self: FakeDiscord,
        name: str,
        message: str | StoredMessage | dict[str, Any],
        *,
        user: Any = None,
    ) -> str:
        """Run the message context-menu command `name` on `message` (id, stored or payload)."""
        if isinstance(message, StoredMessage):
            msg = message.payload
        elif isinstance(message, dict):
            msg = message
        else:
            msg = self.store.get(str(message)).payload
        cid = msg["channel_id"]
        dm = self.channels.get(cid, {}).get("type") == 1
        gid = None if dm else self.channels[cid].get("guild_id")
        data = {
            "name": name,
            "type": 3,
            "target_id": msg["id"],
            "resolved": {"messages": {msg["id"]: copy.deepcopy(msg)}},
            **self._command_meta(name, 3, gid),
        }
        payload, inter = self._envelope(2, data, user, None if dm else cid, dm)
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return inter.id

    async def user_menu(self: FakeDiscord, name: str, target: Any, *, user: Any = None) -> str:
        """Run the user context-menu command `name` on `target`."""
        who = self.user(target)
        gid = self.guild_id
        data: dict[str, Any] = {
            "name": name,
            "type": 2,
            "target_id": who["id"],
            "resolved": {"users": {who["id"]: who}},
            **self._command_meta(name, 2, gid),
        }
        m = member_payload(who, permissions=self.permissions_of(who["id"]))
        del m["user"]
        data["resolved"]["members"] = {who["id"]: m}
        payload, inter = self._envelope(2, data, user, None, False)
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return inter.id

    def post_user_message(
        self: FakeDiscord,
        content: str = "",
        *,
        attachments: list[dict[str, Any]] | None = None,
        user: Any = None,
        channel: str | None = None,
    ) -> StoredMessage:
        """Store a message a user posted (e.g. as the target of a context menu)."""
        who = self.user(user)
        cid = str(channel or self.channel_id)
        payload = {
            "id": self.ids.next(),
            "channel_id": cid,
            "type": 0,
            "content": content,
            "author": who,
            "attachments": list(attachments or []),
            "embeds": [],
            "components": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": 0,
        }
        gid = self.channels[cid].get("guild_id")
        if gid:
            payload["guild_id"] = gid
        blobs = {a["id"]: self.store.cdn[a["id"]].data for a in payload["attachments"]
                 if a["id"] in self.store.cdn}  # fmt: skip
        msg = StoredMessage(payload=payload, files=blobs)
        self.store.messages[payload["id"]] = msg
        self._notify()
        return msg


def _now_iso() -> str:
    from .payloads import iso_now

    return iso_now()
