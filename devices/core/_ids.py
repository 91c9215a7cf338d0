"""Message ids (``dev_message:id``, Sep 2025).

* ``none`` / ``default`` (also ``unsigned``, ``uncommitted``): the unsigned id — the HMAC-SHA256
  commitment (key ``constant:ao``) over the message's httpsig encoding in link mode. An HMAC
  commitment already on the message fixes the covered keys, but the value is always recomputed,
  so a forged HMAC commitment cannot claim an id.
* ``all`` / ``signed``: the signers' commitment ids summed as 256-bit integers (mod 2^256); the
  unsigned id when there is no signer.
* A byte string's id is ``b64u(sha256(bytes))``; a list's id is that of its numbered message.

The unsigned id has two routes that give the same bytes: ``hmac_over`` (structured → TABM →
httpsig fields → signature base, the general path) and ``flat_hmac_id`` below, which builds the
signature base directly when every value is a scalar or a link (nested values are linked by id,
computed recursively) and no key is reserved (``ao-types``, ``ao-ids``, ``ao-body-key``,
``signature``, ``signature-input``, ``<key>+link``) — which is how ``message_id`` meets almost
every message. Any other message (or a stored HMAC commitment over other keys or the bundled
form) takes the general path; ``tests/core/test_fast_ids.py`` checks that both agree.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Literal

from ._b64 import b64u_decode, b64u_encode
from ._commit import HMAC_KEYID, _commitments, hmac_constant, hmac_over, is_hmac, signer_ids
from ._errors import DecodeError
from ._http import MAX_HEADER_LENGTH, _multipart
from ._message import Link, Message, Value, is_private
from ._sf import ser_bare
from ._siginfo import committed_list, component_item
from ._structured import REGEN_KEYS, encode_value, escape_key, list_to_tabm

IdMode = Literal["default", "none", "unsigned", "uncommitted", "all", "signed"]
_UNSIGNED_MODES = ("default", "none", "unsigned", "uncommitted")
_SIGNED_MODES = ("all", "signed")


def native_id(text: str) -> bytes:
    """Raw bytes of a human id (43-char b64u → 32 bytes; other lengths as given)."""
    if len(text) == 43:
        return b64u_decode(text)
    return text.encode("utf-8")


def accumulate(ids: Iterable[str]) -> str:
    """``hb_crypto:accumulate``: the 256-bit big-endian sum of the ids, mod 2^256, as b64u."""
    total = 0
    for ident in ids:
        total = (total + int.from_bytes(native_id(ident), "big")) % (1 << 256)
    return b64u_encode(total.to_bytes(32, "big"))


def message_id(msg: Value | Mapping[str, Any], mode: IdMode = "default") -> str:
    """The id of a message, list or byte string.

    Raises:
        DecodeError: an unknown mode.
        EncodeError: the message holds values that cannot be encoded.
    """
    if type(msg) is Message:
        message = msg
    elif isinstance(msg, bytes):
        return b64u_encode(hashlib.sha256(msg).digest())
    elif isinstance(msg, tuple):
        fast = flat_hmac_id(Message({str(i): v for i, v in enumerate(msg, 1)}), None, as_list=True)
        return fast if fast is not None else hmac_over(list_to_tabm(msg, bundle=False))[0]
    elif isinstance(msg, Mapping):
        message = msg if isinstance(msg, Message) else Message(msg)
    else:
        raise DecodeError(f"no id for a {type(msg).__name__}")
    if mode in _SIGNED_MODES:
        if "commitments" in message:
            signed = signer_ids(message)
            if signed:
                return accumulate(signed)
    elif mode not in _UNSIGNED_MODES:
        raise DecodeError(f"unknown id mode {mode!r}")
    return unsigned_id(message)


def unsigned_id(msg: Message) -> str:
    """The HMAC id over the keys of the message's HMAC commitment, or over every key (memoised on
    the immutable ``msg``)."""
    ident = msg._id
    if ident is None:
        ident = _unsigned_id(msg)
        object.__setattr__(msg, "_id", ident)
    return ident


def _unsigned_id(msg: Message) -> str:
    """The HMAC id over the keys of the message's HMAC commitment, or over every key."""
    if "commitments" not in msg:
        fast = flat_hmac_id(msg, None)
        return fast if fast is not None else hmac_over(msg)[0]
    stored = [c for c in _commitments(msg).values() if is_hmac(c)]
    keys = committed_list(stored[0]) if len(stored) == 1 else None
    bundle = len(stored) == 1 and stored[0].get("bundle") == b"true"
    if not bundle:
        fast = flat_hmac_id(msg, keys)
        if fast is not None:
            return fast
    return hmac_over(msg.without("commitments"), keys, bundle=bundle)[0]


# -- the flat fast path ---------------------------------------------------------------------------

# Keys whose presence changes the encoding's layout: the general path handles them.
_RESERVED = frozenset({"ao-types", "ao-ids", "ao-body-key", "signature", "signature-input"})
_SKIPPED = REGEN_KEYS | {"commitments"}
_PARAMS_TAIL = b';alg="hmac-sha256";keyid="' + HMAC_KEYID + b'"'
_TYPE_ITEMS = {"integer": b'"integer"', "float": b'"float"', "atom": b'"atom"', "list": b'"list"'}
_LIST_TYPE = b'.="list"'
_INT_LIMIT = 10**15  # HyperBEAM reads at most 15 integer digits


@lru_cache(maxsize=4096)
def _component(name: str) -> tuple[bytes, bytes]:
    """``(signature-base line prefix, serialized component item)`` of a field name."""
    return b'"' + name.encode("utf-8") + b'": ', component_item(name)


_SKIP = 1
_BAIL = 2
_ID_SHAPED = 3


@lru_cache(maxsize=4096)
def _key_role(key: str) -> int:
    """0 for a plain key; ``_SKIP`` for keys the encoding leaves out; ``_BAIL`` for keys that
    change the layout; ``_ID_SHAPED`` for keys that go to ``ao-ids`` unless linked (``+link``)."""
    if key in _SKIPPED or is_private(key):
        return _SKIP
    if key in _RESERVED or key.endswith("+link"):
        return _BAIL
    return _ID_SHAPED if _id_shaped(key) else 0


def _id_shaped(key: str) -> bool:
    return len(key.encode("utf-8")) in (32, 42, 43)


@lru_cache(maxsize=4096)
def _type_prefix(key: str) -> bytes:
    return escape_key(key).encode("ascii") + b"="


def flat_hmac_id(
    msg: Mapping[str, Value], committed: list[str] | None, *, as_list: bool = False
) -> str | None:
    """The unsigned (HMAC) id of a flat message over ``committed`` (None: every key), or None when
    the message needs the general path. ``as_list`` marks ``msg`` as a list's numbered message
    (keys ``1..n``, ``ao-types`` gets ``.="list"``). A ``commitments`` key is ignored.

    Raises:
        EncodeError: a value that cannot be encoded (as the general path would).
    """
    tabm: dict[str, bytes] = {}
    types: list[bytes] = [_LIST_TYPE] if as_list else []
    ids: list[str] = []
    for key in sorted(msg):  # code-point order is UTF-8 byte order
        role = _key_role(key)
        if role is _SKIP:
            continue
        if role is _BAIL:
            return None
        value = msg[key]
        if type(value) is bytes:
            tabm[key] = value
        elif type(value) is int and -_INT_LIMIT < value < _INT_LIMIT:
            tabm[key] = str(value).encode("ascii")
            types.append(_type_prefix(key) + b'"integer"')
        elif isinstance(value, bytes):
            tabm[key] = value
        elif isinstance(value, Link | Message | tuple):
            name = key + "+link"
            ident = value.id if isinstance(value, Link) else message_id(value, "all")
            tabm[name] = ident.encode("ascii")
            if _id_shaped(name):
                ids.append(name)
            continue
        else:
            type_name, text = encode_value(value)
            tabm[key] = text
            types.append(_type_prefix(key) + _TYPE_ITEMS[type_name])
        if role:
            ids.append(key)
    if types:
        tabm["ao-types"] = b", ".join(types)
    if committed is not None and committed != [k[:-5] if k.endswith("+link") else k for k in sorted(tabm)]:
        return None
    return b64u_encode(hmac_constant(_flat_base(tabm, ids)))


def _flat_base(tabm: dict[str, bytes], ids: list[str]) -> bytes:
    """The HMAC signature base of a flat TABM (``encode_tabm`` and ``normalize_for_encoding``
    specialised to byte values)."""
    if ids:  # ID-shaped keys travel in one ao-ids dictionary
        ids.sort()
        tabm["ao-ids"] = b", ".join([k.encode("utf-8") + b"=" + ser_bare(tabm.pop(k)) for k in ids])
    inline = "body" if "body" in tabm else "data" if "data" in tabm else ""
    body = tabm.pop(inline) if inline else None
    parts = {k: v for k, v in tabm.items() if len(v) > MAX_HEADER_LENGTH}
    if parts:  # multipart/form-data: each big value and the inline one a part
        for k in parts:
            del tabm[k]
        if body is not None:
            parts[inline] = body
        boundary, body = _multipart(parts, inline)
        tabm["content-type"] = b'multipart/form-data; boundary="' + boundary + b'"'
    if inline == "data":
        tabm["ao-body-key"] = b"data"
    if body:
        tabm["content-digest"] = b"sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()) + b":"
    lines: list[bytes] = []
    items: list[bytes] = []
    for name in sorted(tabm):
        prefix, item = _component(name)
        lines.append(prefix + tabm[name])
        items.append(item)
    return b"\n".join(lines) + b'\n"@signature-params": (' + b" ".join(items) + b")" + _PARAMS_TAIL
