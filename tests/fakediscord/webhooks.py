"""REST API v10 handlers for interactions: the callback (acknowledging), and the interaction
webhooks (original response, follow-ups) with Discord's token expiry."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .faults import Reply
from .installs import check_followup_allowed
from .messages import ApiError
from .payloads import FLAG_EPHEMERAL, FLAG_LOADING
from .records import RecordedCall, StoredMessage

if TYPE_CHECKING:
    from .events import FakeInteraction
    from .server import FakeDiscord


class InteractionHandlers:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    async def callback(self, request: web.Request, call: RecordedCall) -> Reply:
        f = self.fake
        inter = f.interactions.get(request.match_info["iid"])
        if inter is None or inter.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        age = time.monotonic() - inter.created
        if inter.acked_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if f.ack_deadline_s is not None and age > f.ack_deadline_s:
            call.note = f"acknowledged after {age:.2f}s (deadline {f.ack_deadline_s}s)"
            raise ApiError(404, 10062, "Unknown interaction")
        body = call.json or {}
        ctype = int(body.get("type", 0))
        data = body.get("data") or {}
        message: StoredMessage | None = None
        if ctype == 4:
            message = self._create_interaction_message(inter, data, call, original=True)
        elif ctype == 5:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            empty = {"content": "", "flags": flags}
            message = self._create_interaction_message(inter, empty, call, original=True)
        elif ctype in (6, 7):
            if inter.component_message_id is None:
                raise ApiError(400, 40004, "Interaction type requires a component or modal message")
            message = f.store.get(inter.component_message_id)
            inter.original_id = message.id
            if ctype == 7:
                f.store.edit(
                    message, data, call.files, users=f.users, upload_limit=inter.upload_limit
                )
        elif ctype == 8:
            inter.choices = list(data.get("choices") or [])
        elif ctype == 9:
            if not data.get("custom_id") or not data.get("title"):
                raise ApiError(400, 50035, "Invalid Form Body: a modal needs custom_id and title")
            inter.modal = data
        elif ctype not in (1, 10, 12):
            raise ApiError(400, 50035, f"Invalid Form Body: unknown callback type {ctype}")
        inter.acked_type = ctype
        inter.acked_after_s = age
        if "with_response" not in request.query or request.query["with_response"] in ("0", "false"):
            return Reply(204)
        summary: dict[str, Any] = {"id": inter.id, "type": inter.type}
        result: dict[str, Any] = {"interaction": summary}
        if message is not None:
            summary["response_message_id"] = message.id
            summary["response_message_loading"] = message.loading
            summary["response_message_ephemeral"] = message.ephemeral
            result["resource"] = {"type": ctype, "message": message.payload}
        elif ctype != 6:
            result["resource"] = {"type": ctype}
        return Reply(200, result)

    def _create_interaction_message(
        self, inter: FakeInteraction, data: dict, call: RecordedCall, *, original: bool
    ) -> StoredMessage:
        f = self.fake
        assert inter.channel_id is not None
        msg = f.store.create(
            inter.channel_id,
            f.bot_user,
            data,
            call.files,
            guild_id=inter.guild_id,
            webhook_id=f.app_id,
            application_id=f.app_id,
            interaction_id=inter.id,
            allow_empty=original and bool(int(data.get("flags") or 0) & FLAG_LOADING),
            users=f.users,
            upload_limit=inter.upload_limit,
        )
        msg.payload["interaction_metadata"] = {
            "id": inter.id,
            "type": inter.type,
            "user": inter.user,
            "authorizing_integration_owners": inter.payload.get("authorizing_integration_owners"),
        }
        if original:
            inter.original_id = msg.id
        else:
            inter.followup_ids.append(msg.id)
        return msg

    def _hook(self, request: web.Request, call: RecordedCall) -> FakeInteraction:
        f = self.fake
        if request.match_info["app"] != f.app_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        iid = f.tokens.get(request.match_info["token"])
        if iid is None:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        inter = f.interactions[iid]
        if inter.expired(f.token_ttl_s):
            call.note = "interaction token expired"
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return inter

    def _hook_message(self, request: web.Request, inter: FakeInteraction) -> StoredMessage:
        mid = request.match_info["mid"]
        if mid == "@original":
            if inter.original_id is None:
                raise ApiError(404, 10008, "Unknown Message")
            mid = inter.original_id
        elif mid not in inter.followup_ids and mid != inter.original_id:
            raise ApiError(404, 10008, "Unknown Message")
        return self.fake.store.get(mid)

    async def followup(self, request: web.Request, call: RecordedCall) -> Reply:
        f = self.fake
        inter = self._hook(request, call)
        if inter.acked_type is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        check_followup_allowed(inter)  # at most 5 where only a user install authorised it
        deferred = f.store.messages.get(inter.original_id or "")
        if inter.acked_type == 5 and deferred and deferred.loading and not deferred.deleted:
            # Discord: the first follow-up after a type 5 defer *becomes* the deferred
            # response, and the defer decided its visibility (an "ephemeral" follow-up after
            # a public defer is public).
            body = {k: v for k, v in (call.json or {}).items() if k != "flags"}
            msg = f.store.edit(
                deferred,
                body,
                call.files,
                users=f.users,
                clear_flags=FLAG_LOADING,
                upload_limit=inter.upload_limit,
            )
            msg.history.clear()  # users see a new message, not an edit
            msg.payload["edited_timestamp"] = None
            inter.followup_ids.append(msg.id)
            call.note = "first follow-up after a defer fills the deferred response"
        else:
            msg = self._create_interaction_message(inter, call.json or {}, call, original=False)
        if request.query.get("wait") in ("1", "true", "True"):
            return Reply(200, msg.payload)
        return Reply(204)

    async def hook_get(self, request: web.Request, call: RecordedCall) -> Reply:
        inter = self._hook(request, call)
        return Reply(200, self._hook_message(request, inter).payload)

    async def hook_edit(self, request: web.Request, call: RecordedCall) -> Reply:
        f = self.fake
        inter = self._hook(request, call)
        msg = self._hook_message(request, inter)
        f.store.edit(
            msg,
            call.json or {},
            call.files,
            users=f.users,
            clear_flags=FLAG_LOADING,
            upload_limit=inter.upload_limit,
        )
        return Reply(200, msg.payload)

    async def hook_delete(self, request: web.Request, call: RecordedCall) -> Reply:
        inter = self._hook(request, call)
        self._hook_message(request, inter).deleted = True
        return Reply(204)
