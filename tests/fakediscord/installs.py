"""User installs: places the bot is not in, the interaction payloads Discord sends there, and
the rules Discord applies to an app acting only through a user's install.

Discord facts modelled (interactions/receiving-and-responding, application commands docs):
- `authorizing_integration_owners` maps the installation type that authorised the interaction
  to its owner: "0" (guild install) → the guild id ("0" in the bot's DM), "1" (user install)
  → the installing user's id. A component interaction carries the owners of the interaction
  that created its message.
- `context`: 0 guild, 1 the bot's DM, 2 a private channel (group DM, DM between users).
- With only the user key, the bot is no member there: bot-token calls on that channel answer
  403, code 50001 Missing Access; the interaction token still edits the original response,
  and such an interaction takes at most 5 follow-ups (then 400, code 40094).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .messages import ApiError

if TYPE_CHECKING:
    from .events import FakeInteraction
    from .server import FakeDiscord

GUILD_INSTALL, USER_INSTALL = "0", "1"
CONTEXT_GUILD, CONTEXT_BOT_DM, CONTEXT_PRIVATE_CHANNEL = 0, 1, 2
GROUP_DM = 3  # channel type
MAX_USER_INSTALL_FOLLOWUPS = 5


def bot_in_guild(fake: FakeDiscord, guild_id: str | None) -> bool:
    """Whether the bot is a member of the guild (`add_guild(..., bot_member=False)`: not)."""
    return guild_id is None or bool(fake.guilds.get(str(guild_id), {}).get("bot", True))


def bot_can_access(fake: FakeDiscord, channel: dict[str, Any]) -> bool:
    """Whether bot-token calls may use this channel: a guild channel of a guild with the bot,
    its own DMs; never a group DM or a channel of a guild without it."""
    if channel.get("type") == GROUP_DM:
        return False
    return bot_in_guild(fake, channel.get("guild_id"))


def check_bot_access(fake: FakeDiscord, channel: dict[str, Any]) -> None:
    """Raise Discord's answer to a bot-token call on a channel the bot is not in."""
    if not bot_can_access(fake, channel):
        raise ApiError(403, 50001, "Missing Access")


def add_group_dm(fake: FakeDiscord, *users: Any) -> str:
    """A group DM of these users (the bot is not a recipient); returns its channel id."""
    members = [fake.user(u) for u in users] or [fake.alice, fake.bob]
    cid = fake.ids.next()
    fake.channels[cid] = {
        "id": cid,
        "type": GROUP_DM,
        "name": None,
        "icon": None,
        "owner_id": members[0]["id"],
        "recipients": members,
        "last_message_id": None,
        "flags": 0,
    }
    return cid


def where_payload(
    fake: FakeDiscord, who: dict[str, Any], cid: str, user_install: bool | None
) -> dict[str, Any]:
    """`context` and `authorizing_integration_owners` of an interaction in channel `cid` (a
    guild channel or a group DM). `user_install=None`: a user install exactly where the bot
    can't be (a guild without it, a group DM); True forces one in a guild with the bot too."""
    channel = fake.channels[cid]
    mine = {USER_INSTALL: who["id"]}
    if channel.get("type") == GROUP_DM:
        return {"context": CONTEXT_PRIVATE_CHANNEL, "authorizing_integration_owners": mine}
    gid = channel["guild_id"]
    if user_install is None:
        user_install = not bot_in_guild(fake, gid)
    owners = mine if user_install else {GUILD_INSTALL: gid}
    return {"context": CONTEXT_GUILD, "authorizing_integration_owners": owners}


def user_install_only(inter: FakeInteraction) -> bool:
    """Only a user install authorised it: the limits for apps that are not members apply."""
    owners = inter.payload.get("authorizing_integration_owners") or {}
    return set(owners) == {USER_INSTALL}


def check_followup_allowed(inter: FakeInteraction) -> None:
    """Discord's cap on follow-ups of an interaction only a user install authorised."""
    if user_install_only(inter) and len(inter.followup_ids) >= MAX_USER_INSTALL_FOLLOWUPS:
        raise ApiError(
            400, 40094, "This interaction has hit the maximum number of follow up messages"
        )
