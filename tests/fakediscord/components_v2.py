"""Components V2 (message flag IS_COMPONENTS_V2 = 1 << 15): the checks Discord makes on such a
message, and how it stores their media.

Checked on the message as it will be after a create or an edit (400, code 50035 otherwise):
with the flag there is no content and no embeds; V2 component types (9 section, 10 text
display, 11 thumbnail, 12 media gallery, 13 file, 14 separator, 17 container) need the flag;
top-level and container children are of the allowed types; a section holds 1-3 text displays
and a thumbnail or button accessory; a gallery 1-10 items; at most 40 components and 4000
characters of text display in all; every `attachment://name` names one of the message's
attachments (a file component may point at nothing else). The flag, once set, stays.
Media pointing at an attachment are stored resolved, as Discord answers them: the CDN url,
size, content type and `attachment_id`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from .payloads import InvalidForm

FLAG_COMPONENTS_V2 = 1 << 15
V2_TYPES = {9: "section", 10: "text display", 11: "thumbnail", 12: "media gallery", 13: "file"}
V2_TYPES |= {14: "separator", 17: "container"}
TOP_LEVEL = {1, 9, 10, 12, 13, 14, 17}
IN_CONTAINER = {1, 9, 10, 12, 13, 14}
MAX_COMPONENTS = 40
MAX_TEXT = 4000
ATTACHMENT = "attachment://"


def is_v2(payload: dict[str, Any]) -> bool:
    return bool(int(payload.get("flags") or 0) & FLAG_COMPONENTS_V2)


def walk(components: list[dict[str, Any]], where: str = "components") -> Iterator[tuple]:
    """(path, component) for every component, nested ones included (accessories too)."""
    for i, c in enumerate(components):
        here = f"{where}.{i}"
        yield here, c
        yield from walk(c.get("components") or [], f"{here}.components")
        if isinstance(c.get("accessory"), dict):
            yield f"{here}.accessory", c["accessory"]


def media_of(component: dict[str, Any]) -> list[dict[str, Any]]:
    """The unfurled media objects a component shows (thumbnail, file, gallery items)."""
    if component.get("type") in (11, 13) and isinstance(component.get("media"), dict):
        return [component["media"]]
    if component.get("type") == 13 and isinstance(component.get("file"), dict):
        return [component["file"]]
    if component.get("type") == 12:
        return [item["media"] for item in component.get("items") or [] if "media" in item]
    return []


def apply_layout(payload: dict[str, Any], *, was_v2: bool = False) -> None:
    """Check the message `payload` (as stored after this create/edit) against Discord's
    Components V2 rules, raising InvalidForm; keep the flag when it was set before; resolve
    `attachment://` media to the message's attachments."""
    if was_v2:
        payload["flags"] = int(payload.get("flags") or 0) | FLAG_COMPONENTS_V2
    # A copy: the recorded request keeps what the bot sent (`attachment://`), unresolved.
    components = payload["components"] = copy.deepcopy(payload.get("components") or [])
    errors: dict[str, str] = {}
    if not is_v2(payload):
        for path, c in walk(components):
            if c.get("type") in V2_TYPES:
                errors[path] = f"{V2_TYPES[c['type']]} components need the IS_COMPONENTS_V2 flag"
        if errors:
            raise InvalidForm(errors)
        return
    if payload.get("content"):
        errors["content"] = "Cannot be used with the IS_COMPONENTS_V2 flag"
    if payload.get("embeds"):
        errors["embeds"] = "Cannot be used with the IS_COMPONENTS_V2 flag"
    _check_structure(components, errors)
    files = {a["filename"]: a for a in payload.get("attachments") or []}
    for path, c in walk(components):
        for media in media_of(c):
            url = str(media.get("url") or "")
            if (
                c.get("type") == 13
                and not url.startswith(ATTACHMENT)
                and "attachment_id" not in media
            ):
                errors[f"{path}.file"] = "A file component must point at an attachment"
            if url.startswith(ATTACHMENT) and url[len(ATTACHMENT) :] not in files:
                errors[f"{path}.media"] = f"No uploaded file named {url[len(ATTACHMENT) :]!r}"
    if errors:
        raise InvalidForm(errors)
    for _, c in walk(components):
        for media in media_of(c):
            url = str(media.get("url") or "")
            if url.startswith(ATTACHMENT):
                _resolve(media, files[url[len(ATTACHMENT) :]])


def _check_structure(components: list[dict[str, Any]], errors: dict[str, str]) -> None:
    count, text = 0, 0
    for i, c in enumerate(components):
        if c.get("type") not in TOP_LEVEL:
            errors[f"components.{i}"] = f"Component type {c.get('type')} is not allowed here"
    for path, c in walk(components):
        count += 1
        ctype = c.get("type")
        children = c.get("components") or []
        if ctype == 10:
            text += len(str(c.get("content") or ""))
            if not c.get("content"):
                errors[path] = "A text display needs content"
        elif ctype == 17:
            if not children:
                errors[path] = "A container needs at least one component"
            for j, child in enumerate(children):
                if child.get("type") not in IN_CONTAINER:
                    errors[f"{path}.components.{j}"] = "Not allowed in a container"
        elif ctype == 9:
            accessory = c.get("accessory") or {}
            if not 1 <= len(children) <= 3 or any(ch.get("type") != 10 for ch in children):
                errors[path] = "A section holds 1 to 3 text displays"
            if accessory.get("type") not in (2, 11):
                errors[f"{path}.accessory"] = "A section's accessory is a button or a thumbnail"
        elif ctype == 12 and not 1 <= len(c.get("items") or []) <= 10:
            errors[path] = "A media gallery holds 1 to 10 items"
    if count > MAX_COMPONENTS:
        errors["components"] = f"At most {MAX_COMPONENTS} components in a message"
    if text > MAX_TEXT:
        errors["components"] = f"At most {MAX_TEXT} characters of text display in a message"


def _resolve(media: dict[str, Any], attachment: dict[str, Any]) -> None:
    media["url"] = attachment["url"]
    media["proxy_url"] = attachment.get("proxy_url", attachment["url"])
    media["attachment_id"] = attachment["id"]
    for key in ("width", "height", "content_type"):
        if key in attachment:
            media[key] = attachment[key]


def texts(payload: dict[str, Any]) -> list[str]:
    """The text displays of a message version, in order."""
    return [
        str(c.get("content") or "")
        for _, c in walk(payload.get("components") or [])
        if c.get("type") == 10
    ]


def descriptions(payload: dict[str, Any]) -> list[str]:
    """The descriptions of every media gallery item of a message version (or of a request
    body, before its `attachment://` media are resolved), in order."""
    return [
        str(item.get("description") or "")
        for _, c in walk(payload.get("components") or [])
        if c.get("type") == 12
        for item in c.get("items") or []
    ]


def gallery(payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(description, attachment payload) of every media gallery item of a message version
    that shows one of its attachments, in order."""
    by_id = {a["id"]: a for a in payload.get("attachments") or []}
    items = []
    for _, c in walk(payload.get("components") or []):
        if c.get("type") == 12:
            for item in c.get("items") or []:
                att = by_id.get((item.get("media") or {}).get("attachment_id"))
                if att is not None:
                    items.append((str(item.get("description") or ""), att))
    return items
