"""``message@1.0`` — the identity device and the default for messages without ``device``.

Keys (the key is the first element of the request's ``path``):

* *any other key* — ``get``. Assumes nothing. Produces the value of that key of the base: exact
  match first, then case-insensitive. Private keys (``priv*``) and missing keys raise
  ``KeyNotFound`` (404) naming the key. No side effects.
* ``get`` — the same, for the key named by the request's ``key``.
* ``keys`` — produces the list of the base's non-private keys (sorted). No side effects.
* ``set`` — produces the base with every key of the request set, except ``path`` and the
  reserved keys (``id``, ``commitments``, ``committers``, ``keys``, ``set``, ``remove``,
  ``verify``, ``set-mode``) and private keys. The atom ``unset`` deletes a key; nested messages are
  deep-merged unless ``set-mode`` is ``explicit``. If a value changes, ``commitments`` are dropped
  (they no longer cover the message). The base's private part is kept.
* ``remove`` — produces the base without the request's ``item`` (one key) or ``items`` (a list).
* ``path`` — produces the base's own ``path``.
* ``commitments`` — produces the base's ``commitments`` message (404 when it has none).
* ``committers`` — produces the list of ``committer`` values of the base's commitments (an HMAC
  commitment has none and never counts as a signer).
* ``id`` — produces the base's id (``mode`` in the request: ``none`` — the unsigned id, the
  default — ``all`` or ``signed``). Needs the codec layer (503 until it is loaded).
* ``verify`` — produces ``true``/``false``: do all the base's commitments verify? Needs the codec
  layer (503 until it is loaded). No side effects.

``commit`` is deliberately not exported: signing arbitrary content with the node wallet over HTTP
would make the node a signing oracle (spec §11 D5).
"""

from __future__ import annotations

from typing import Any, final

import devices.core as core
from devices._base import Context, DeviceInfo
from devices._errors import BadRequest, KeyNotFound, NotFound, Unavailable
from devices.core import Atom, Message, Value, is_private

_RESERVED = frozenset({"path", "id", "commitments", "committers", "keys", "set", "remove", "verify",
                       "set-mode"})
_KEYS = frozenset({"get", "keys", "set", "remove", "path", "commitments", "committers", "id", "verify"})


def _codec(name: str) -> Any:
    fn = getattr(core, name, None)
    if fn is None:
        raise Unavailable(f"the {name} codec function is not available on this node yet")
    return fn


def get_key(base: Message, key: str) -> Value:
    """``base[key]`` with the case-insensitive fallback; private or missing keys raise 404."""
    if is_private(key):
        raise KeyNotFound(f"key not found: {key}")
    value = base.find(key)
    if value is None:
        raise KeyNotFound(f"key not found: {key}")
    return value


def _merge(current: Message, update: Message) -> Message:
    """Deep-merge ``update`` into ``current`` (``unset`` atoms delete)."""
    fields: dict[str, Value] = dict(current)
    for key, value in update.items():
        inner = fields.get(key)
        if isinstance(value, Atom) and value.name == "unset":
            fields.pop(key, None)
        elif isinstance(value, Message) and isinstance(inner, Message):
            fields[key] = _merge(inner, value)
        else:
            fields[key] = value
    return Message(fields)


@final
class MessageDevice:
    id = "message@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=_KEYS, catch_all=True, description="identity device: keys are fields")

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        if key == "get":
            name = req.get_text("key")
            if name is None:
                raise BadRequest("get needs a 'key' in the request")
            return get_key(base, name)
        if key == "keys":
            return tuple(k.encode("utf-8") for k in sorted(base) if not is_private(k))
        if key == "set":
            return self._set(base, req)
        if key == "remove":
            return self._remove(base, req)
        if key == "path":
            return get_key(base, "path")
        if key == "commitments":
            found = base.get_message("commitments")
            if found is None:
                raise NotFound("the message has no commitments")
            return found
        if key == "committers":
            comms = base.get_message("commitments") or Message()
            return tuple(c["committer"] for c in comms.values()
                         if isinstance(c, Message) and isinstance(c.get("committer"), bytes))
        if key == "id":
            mode = req.get_text("mode", "none") or "none"
            if mode not in ("none", "all", "signed"):
                raise BadRequest(f"unknown id mode: {mode}")
            ident: str = _codec("message_id")(base, mode)
            return ident.encode("utf-8")
        if key == "verify":
            report = _codec("verify")(base)
            return bool(getattr(report, "valid", report))
        return get_key(base, key)

    @staticmethod
    def _set(base: Message, req: Message) -> Message:
        explicit = req.get_text("set-mode") == "explicit"
        fields: dict[str, Value] = dict(base)
        changed = False
        for key, value in req.items():
            if key.lower() in _RESERVED or is_private(key):
                continue
            current = fields.get(key)
            if isinstance(value, Atom) and value.name == "unset":
                if key in fields:
                    del fields[key]
                    changed = True
                continue
            if not explicit and isinstance(value, Message) and isinstance(current, Message):
                value = _merge(current, value)
            if current != value:
                fields[key] = value
                changed = True
        if not changed:
            return base
        fields.pop("commitments", None)  # they no longer cover the message
        return Message(fields)

    @staticmethod
    def _remove(base: Message, req: Message) -> Message:
        items = req.get("items")
        if isinstance(items, tuple):
            names = [i.decode("utf-8", "replace") for i in items if isinstance(i, bytes)]
        else:
            item = req.get_text("item")
            if item is None:
                raise BadRequest("remove needs 'item' or 'items' in the request")
            names = [item]
        return base.without(*names)


DEVICE = MessageDevice()
