"""Builders for Discord API objects (users, members, channels, guilds, messages) and checks on
what a bot sends, shaped as discord.py 2.7 parses them."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
ADD_REACTIONS = 1 << 6
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
DEFAULT_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | ADD_REACTIONS
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)

# Message flags.
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7


class Snowflakes:
    """Monotonic, realistic snowflakes (timestamp in the high bits), as strings."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        base = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(base, self._last + 1)
        return str(self._last)

    def next_on_shard(self, shard_id: int, num_shards: int) -> str:
        """The next snowflake `s` with `(s >> 22) % num_shards == shard_id` (a guild id on that
        shard): the timestamp part moves at most num_shards - 1 ms ahead."""
        ts = int(self.next()) >> 22
        ts += (shard_id - ts) % num_shards
        self._last = max(self._last, ts << 22)
        return str(ts << 22)


_tokens = itertools.count(1)


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def user_payload(user_id: str, username: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": username,
        "global_name": username,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def member_payload(
    user: dict[str, Any], *, roles: list[str] | None = None, permissions: int | None = None
) -> dict[str, Any]:
    member: dict[str, Any] = {
        "user": user,
        "roles": list(roles or []),
        "flags": 0,
        "joined_at": iso_now(),
        "deaf": False,
        "mute": False,
        "nick": None,
        "avatar": None,
        "premium_since": None,
        "pending": False,
    }
    if permissions is not None:  # only interaction payloads carry computed permissions
        member["permissions"] = str(permissions)
    return member


def text_channel_payload(channel_id: str, guild_id: str, name: str, position: int) -> dict:
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
    }


def dm_channel_payload(channel_id: str, recipient: dict[str, Any]) -> dict[str, Any]:
    return {"id": channel_id, "type": 1, "last_message_id": None, "recipients": [recipient]}


def everyone_role_payload(guild_id: str, permissions: int = DEFAULT_PERMISSIONS) -> dict:
    return {
        "id": guild_id,
        "name": "@everyone",
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": 0,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def guild_payload(
    guild_id: str,
    name: str,
    owner_id: str,
    channels: list[dict[str, Any]],
    members: list[dict[str, Any]],
) -> dict[str, Any]:
    """A GUILD_CREATE payload (channels without guild_id, as the gateway sends them)."""
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "owner_id": owner_id,
        "unavailable": False,
        "large": False,
        "member_count": len(members),
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "features": [],
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "system_channel_flags": 0,
        "roles": [everyone_role_payload(guild_id)],
        "emojis": [],
        "stickers": [],
        "channels": [{k: v for k, v in c.items() if k != "guild_id"} for c in channels],
        "threads": [],
        "members": members,
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "joined_at": iso_now(),
    }


def new_interaction_token() -> str:
    # Shaped like nothing real on purpose, so it can never be mistaken for a secret.
    return f"fake-itok-{next(_tokens)}-{int(time.time() * 1000) % 100000}"


_MENTION = re.compile(r"<@!?(\d+)>")


def mentioned_ids(content: str) -> list[str]:
    return list(dict.fromkeys(_MENTION.findall(content or "")))


class InvalidForm(Exception):
    """The body breaks one of Discord's documented limits: answered 400, code 50035."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    def body(self) -> dict[str, Any]:
        nested: dict[str, Any] = {}
        for key, msg in self.errors.items():
            nested[key] = {"_errors": [{"code": "BASE_TYPE_INVALID", "message": msg}]}
        return {"code": 50035, "message": "Invalid Form Body", "errors": nested}


def check_message_body(data: dict[str, Any]) -> None:
    """Raise InvalidForm for the limits a bot most often breaks (content, embeds, components)."""
    errors: dict[str, str] = {}
    content = data.get("content")
    if content is not None and len(str(content)) > 2000:
        errors["content"] = "Must be 2000 or fewer in length."
    embeds = data.get("embeds") or []
    if len(embeds) > 10:
        errors["embeds"] = "Must be 10 or fewer in length."
    total = 0
    for i, e in enumerate(embeds):
        limits = {"title": 256, "description": 4096}
        for key, limit in limits.items():
            value = e.get(key) or ""
            total += len(value)
            if len(value) > limit:
                errors[f"embeds.{i}.{key}"] = f"Must be {limit} or fewer in length."
        fields = e.get("fields") or []
        if len(fields) > 25:
            errors[f"embeds.{i}.fields"] = "Must be 25 or fewer in length."
        for j, f in enumerate(fields):
            total += len(f.get("name") or "") + len(f.get("value") or "")
            if not f.get("name") or not f.get("value"):
                errors[f"embeds.{i}.fields.{j}"] = "Field name and value are required."
            elif len(f["name"]) > 256 or len(f["value"]) > 1024:
                errors[f"embeds.{i}.fields.{j}"] = "Field name ≤ 256, value ≤ 1024."
        footer = (e.get("footer") or {}).get("text") or ""
        total += len(footer)
        if len(footer) > 2048:
            errors[f"embeds.{i}.footer.text"] = "Must be 2048 or fewer in length."
    if total > 6000:
        errors["embeds"] = "Embed size exceeds maximum size of 6000"
    comps = data.get("components") or []
    v2 = bool(int(data.get("flags") or 0) & (1 << 15))
    if not v2 and len(comps) > 5:
        errors["components"] = "Must be 5 or fewer in length."
    _check_components(comps, "components", errors, v2)
    if errors:
        raise InvalidForm(errors)


def _check_components(comps: list[dict], where: str, errors: dict[str, str], v2: bool) -> None:
    for i, c in enumerate(comps):
        here = f"{where}.{i}"
        ctype = c.get("type")
        if ctype == 1:
            children = c.get("components") or []
            if not children or len(children) > 5:
                errors[here] = "An action row holds 1 to 5 components."
            _check_components(children, f"{here}.components", errors, v2)
        elif ctype == 2:
            label = c.get("label") or ""
            if len(label) > 80:
                errors[f"{here}.label"] = "Must be 80 or fewer in length."
            if c.get("style") == 5:
                if not c.get("url"):
                    errors[f"{here}.url"] = "A link button needs a url."
            elif c.get("style") != 6 and not c.get("custom_id"):
                errors[f"{here}.custom_id"] = "This field is required"
        if "custom_id" in c and len(str(c["custom_id"])) > 100:
            errors[f"{here}.custom_id"] = "Must be 100 or fewer in length."
        if ctype not in (1, 2) and c.get("components"):
            _check_components(c["components"], f"{here}.components", errors, v2)
