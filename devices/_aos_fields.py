"""The JSON interface's message shapes (spec §3.3, §8.9): AO-Core message → the lower-case fields
``AosProcess`` turns into aos's JSON, and aos's response → the ``results`` message (HyperBEAM's
``outbox``/``patches``/``data`` plus ``raw``, the legacy CU result with native JSON values)."""

from __future__ import annotations

import json
from typing import Any

from devices.core import Atom, Message, Value, json_decode, signers
from devices.wasm import AosError, json_iface_results

_SKIP = frozenset({"commitments", "priv", "path", "method", "device-key", "pass", "snapshot"})


def _scalar(value: Value) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, Atom):
        return value.name
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, Message | tuple):
        return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, Message):
        return {k: _plain(v) for k, v in value.items() if not k.lower().startswith("priv")}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return _scalar(value) if not isinstance(value, str) else value


def _original_tags(msg: Message) -> list[dict[str, str]] | None:
    comms = msg.get_message("commitments") or Message()
    for c in comms.values():
        if isinstance(c, Message):
            tags = c.find("original-tags")
            if isinstance(tags, Message):
                tags = tuple(tags[k] for k in sorted(tags, key=lambda k: int(k) if k.isdigit() else 0))
            if isinstance(tags, tuple):
                return [
                    {"name": _scalar(t.find("name") or b""), "value": _scalar(t.find("value") or b"")}
                    for t in tags
                    if isinstance(t, Message)
                ]
    return None


def message_fields(
    msg: Message, ident: str, *, skip: frozenset[str] = frozenset(), original_tags: bool = True
) -> dict[str, Any]:
    """The lower-case field mapping ``AosProcess`` turns into aos's JSON (spec §3.3).

    With ``original_tags`` (default) an ANS-104 commitment's tag list is used as ``Tags``; a
    dry-run passes False because its tags arrive in the URL, outside the signed item (§8.5)."""
    out: dict[str, Any] = {}
    for key, value in msg.items():
        low = key.lower()
        if low in _SKIP or low in skip or low.startswith("priv"):
            continue
        text = _scalar(value)
        if text is not None:
            out[low] = text
    tags = _original_tags(msg) if original_tags else None
    if tags is not None:
        out["original-tags"] = tags
    who = signers(msg)
    out["owner"] = who[0] if who else ""
    out["id"] = ident
    return out


def image_of(definition: Message) -> Value | None:
    for key in ("module", "image"):
        value = definition.find(key)
        if value is not None:
            return value
    return None


def _to_message(obj: dict[str, Any]) -> Message:
    return json_decode(json.dumps(obj, ensure_ascii=False, allow_nan=False).encode())


def result_message(response: dict[str, Any], gas: int, pid: str, image: str) -> Message:
    """``results``: HyperBEAM's ``outbox``/``patches``/``data`` plus ``raw`` (the CU result)."""
    raw = {"Output": {}, "Messages": [], "Spawns": [], "Assignments": [], **response, "GasUsed": gas}
    try:
        laid_out = json_iface_results(response, process_id=pid, image_id=image)
    except AosError as exc:
        laid_out = {"outbox": {}, "patches": [], "data": exc.reason}
    return _to_message({**laid_out, "raw": raw})


def error_response(reason: str) -> dict[str, Any]:
    return {"Output": {}, "Messages": [], "Spawns": [], "Assignments": [], "Error": reason}
