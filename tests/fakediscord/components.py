"""What users do with components: button clicks (on a message they received, or crafted with
`press`) and modal submissions, as INTERACTION_CREATE payloads (mixed into the fake through
`InteractionsMixin`)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .records import StoredMessage

if TYPE_CHECKING:
    from .server import FakeDiscord


class ComponentsMixin:
    async def click(
        self: FakeDiscord,
        message: str | StoredMessage,
        custom_id: str,
        *,
        user: Any = None,
        values: list[str] | None = None,
    ) -> str:
        """Press the button (or choose `values` in the select) `custom_id` on a stored message.

        Raises ValueError when the message has no such enabled component: a real user could
        not click it either.
        """
        msg = message if isinstance(message, StoredMessage) else self.store.get(str(message))
        comp = msg.component(custom_id)
        if comp is None:
            raise ValueError(f"message {msg.id} has no component {custom_id!r}: {msg.custom_ids()}")
        if comp.get("disabled"):
            raise ValueError(f"component {custom_id!r} on message {msg.id} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": comp["type"]}
        if values is not None:
            data["values"] = list(values)
        cid = msg.channel_id
        dm = self.channels.get(cid, {}).get("type") == 1
        payload, inter = self._envelope(3, data, user, None if dm else cid, dm)
        meta = msg.payload.get("interaction_metadata") or {}
        if meta.get("authorizing_integration_owners"):
            # Discord: a component carries the owners of the interaction that made its message.
            payload["authorizing_integration_owners"] = dict(meta["authorizing_integration_owners"])
        payload["message"] = copy.deepcopy(msg.payload)
        inter.component_message_id = msg.id
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return inter.id

    async def press(
        self: FakeDiscord,
        custom_id: str,
        *,
        user: Any = None,
        channel: str | None = None,
        guild: str | None = None,
        dm: bool = False,
    ) -> str:
        """Press a button by `custom_id` from anywhere, as a crafted interaction (a modified
        client, an old or forwarded message) would: the user never received that button.

        Where: as for `slash` (`channel`, `guild`, `dm`). The fake stores a bot message in
        that place carrying only this button and clicks it, so the bot sees an ordinary
        component interaction (and a type 7 answer edits that message). For testing that
        buttons check who may act, not only who was shown them.
        """
        who = self.user(user)
        if guild is not None and channel is None:
            channel = self.guilds[str(guild)]["channels"][0]
        cid = self.dm_channel(who) if dm else str(channel or self.channel_id)
        button = {"type": 2, "style": 2, "label": "crafted", "custom_id": custom_id}
        body = {"content": "", "components": [{"type": 1, "components": [button]}]}
        gid = None if dm else self.channels[cid]["guild_id"]
        msg = self.store.create(cid, self.bot_user, body, [], guild_id=gid)
        return await self.click(msg, custom_id, user=who)

    async def submit_modal(
        self: FakeDiscord, opened_by: str, values: dict[str, str], *, user: Any = None
    ) -> str:
        """Submit the modal the bot opened in answer to interaction `opened_by`."""
        modal = self.interactions[str(opened_by)].modal
        if modal is None:
            raise ValueError(f"interaction {opened_by} got no modal")
        comps = []
        for c in modal.get("components") or []:
            if c.get("type") == 1:
                row = [
                    {
                        "type": 4,
                        "custom_id": x["custom_id"],
                        "value": values.get(x["custom_id"], ""),
                    }
                    for x in c.get("components") or []
                ]
                comps.append({"type": 1, "components": row})
            elif c.get("type") == 18 and isinstance(c.get("component"), dict):
                inner = c["component"]
                value = values.get(inner.get("custom_id", ""), "")
                comps.append({"type": 18, "component": {**_input_state(inner), "value": value}})
        data = {"custom_id": modal["custom_id"], "components": comps}
        first = self.interactions[str(opened_by)]
        payload, inter = self._envelope(
            5, data, user or first.user, first.channel_id, first.guild_id is None
        )
        if first.component_message_id:  # a modal opened from a button carries its message
            inter.component_message_id = first.component_message_id
            payload["message"] = copy.deepcopy(self.store.get(first.component_message_id).payload)
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return inter.id


def _input_state(comp: dict[str, Any]) -> dict[str, Any]:
    return {"type": comp.get("type", 4), "custom_id": comp.get("custom_id", "")}
