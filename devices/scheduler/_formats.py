"""Schedule and slot replies: HyperBEAM's message shapes and the legacy ``application/aos-2`` JSON.

* ``schedule_message`` — ``{type: schedule, process, continues, timestamp, block-height,
  block-hash, assignments: {"<slot>": <assignment>, …}}`` (spec §1.8).
* ``schedule_aos2`` — ``{"page_info": {…}, "edges": [{"cursor": <slot>, "node": {"message":
  <json-struct of the body>, "assignment": <json-struct of the assignment without body>}}]}``.
* ``json_struct`` — ``{Id, Anchor, Owner, From, Tags, Target, Data, Signature}`` (spec §3.3).
* ``slot_message`` — ``{process, current, timestamp, block-height, block-hash,
  cache-control: no-store, addresses: [<address>]}`` (Sep; block fields the right way round).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from devices.core import Atom, Message, Value

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._assignment import Assignment, BlockInfo


def _text(value: Value | None) -> str | None:
    """A value as JSON-interface text, or None when it has no text form (nested messages...)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Atom):
        return value.name
    return None


def _first_signer(msg: Message) -> Message | None:
    comms = msg.get_message("commitments")
    if comms is None:
        return None
    for c in comms.values():
        if isinstance(c, Message) and c.get("committer") is not None:
            return c
    return None


def _original_tags(msg: Message) -> list[dict[str, str]] | None:
    comms = msg.get_message("commitments") or Message()
    for c in comms.values():
        tags = c.get_message("original-tags") if isinstance(c, Message) else None
        if tags is not None:
            ordered = sorted(tags, key=lambda k: int(k) if k.isdigit() else 0)
            return [
                {"name": t.get_text("name") or "", "value": t.get_text("value") or ""}
                for t in (tags[k] for k in ordered)
                if isinstance(t, Message)
            ]
    return None


def json_struct(msg: Message, message_id: Callable[[Message], str]) -> dict[str, Any]:
    """The JSON-interface view of a message (``message_to_json_struct``), through the aos
    driver's ``devices.wasm.json_struct``: the id, the first signer as ``Owner``/``Signature``,
    ANS-104 ``original-tags`` when present; keys whose values are not text are left out."""
    from devices.wasm import json_struct as fields_to_struct  # lazy: wasmtime is a heavy import

    fields: dict[str, Any] = {}
    for key, value in msg.items():
        text = _text(value)
        if text is not None and not key.lower().startswith("priv"):
            fields[key] = text
    signer = _first_signer(msg)
    fields["id"] = message_id(msg)
    fields["owner"] = (signer.get_text("committer") if signer is not None else None) or ""
    fields["signature"] = (signer.get_text("signature") if signer is not None else None) or ""
    tags = _original_tags(msg)
    if tags is not None:
        fields["original-tags"] = tags
    return fields_to_struct(fields)


def schedule_message(pid: str, items: Sequence[Assignment], more: bool, block: BlockInfo) -> Message:
    return Message(
        {
            "type": "schedule",
            "process": pid,
            "continues": more,
            "timestamp": block.timestamp,
            "block-height": block.height,
            "block-hash": block.hash,
            "assignments": {str(a.slot): a.message for a in items},
        }
    )


def schedule_aos2(
    pid: str, items: Sequence[Assignment], more: bool, block: BlockInfo, message_id: Callable[[Message], str]
) -> bytes:
    edges = [
        {
            "cursor": a.slot,
            "node": {
                "message": json_struct(a.body, message_id),
                "assignment": json_struct(a.message.without("body"), message_id),
            },
        }
        for a in items
    ]
    page = {
        "page_info": {
            "process": pid,
            "has_next_page": more,
            "timestamp": str(block.timestamp),
            "block-height": str(block.height),
            "block-hash": block.hash,
        },
        "edges": edges,
    }
    return json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def slot_message(pid: str, current: int, block: BlockInfo, address: str) -> Message:
    return Message(
        {
            "process": pid,
            "current": current,
            "timestamp": block.timestamp,
            "block-height": block.height,
            "block-hash": block.hash,
            "cache-control": "no-store",
            "addresses": [address],
        }
    )
