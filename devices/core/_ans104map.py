"""``ans104@1.0`` at the message layer (Sep 2025): data items ↔ messages and their commitments.

Item → message (``dev_codec_ans104_from``):

1. Tag names become lower-cased keys; repeated names become an SF list of their values;
   an ``ao-types`` tag is re-keyed in lower case. ``bundle-*`` and ``ao-data-key`` are meta tags.
2. The data goes under ``ao-data-key`` (default ``data``) when non-empty; a target becomes the
   key ``target`` (b64u). The anchor is kept in the commitment only.
3. ``committed`` = the data key, the tag keys in tag order, then ``target``.
4. A signed item gets one commitment keyed by the item id: ``commitment-device: ans104@1.0``,
   ``type: rsa-pss-sha256``, ``keyid: publickey:<b64u owner>``, ``committer``, ``signature``
   (b64u), ``committed``, ``bundle``, and ``original-tags`` when a tag name is not lower case,
   ``field-target`` / ``field-anchor`` (b64u) when set. An unsigned item with such tags gets an
   ``unsigned-sha256`` commitment keyed by its unsigned id.

Message → item rebuilds the tags from ``original-tags`` (checked against the message, which
the reference skips) or from ``committed``; without a commitment the keys become tags in sorted
order. Nested maps become ``<key>+link`` tags; bundling children is not supported here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import _sf
from ._b64 import b64u_decode, b64u_encode
from ._errors import CoreError, DecodeError, EncodeError
from ._message import Message, Value
from ._structured import decode_ao_types, encode_ao_types, from_tabm, numbered_to_tuple, sort_key, to_tabm
from .ans104 import SIGNATURE_TYPES, DataItem, Tag

DEVICE = b"ans104@1.0"
META_TAGS = frozenset({"bundle-format", "bundle-version", "bundle-map", "ao-data-key"})
MAX_TAG_VALUE = 3072
MAX_TAG_NAME = 1024


@dataclass(frozen=True, slots=True)
class ItemFields:
    """What a data item built from a message carries (signature and owner aside)."""

    tags: tuple[Tag, ...]
    data: bytes
    target: bytes
    anchor: bytes

    def unsigned_item(self) -> DataItem:
        """A type-1 item with zero signature and owner (HyperBEAM's unsigned form)."""
        return DataItem(1, bytes(512), bytes(512), self.target, self.anchor, self.tags, self.data)


def _type_name(item: DataItem) -> bytes:
    if item.signature_type == 1:
        return b"rsa-pss-sha256"
    return SIGNATURE_TYPES[item.signature_type].name.encode()


def _lower_tags(tags: tuple[Tag, ...]) -> dict[str, bytes]:
    grouped: dict[str, list[bytes]] = {}
    for name, value in tags:
        grouped.setdefault(name.decode("utf-8", "replace").lower(), []).append(value)
    out: dict[str, bytes] = {}
    for key, values in grouped.items():
        out[key] = values[0] if len(values) == 1 else _sf.ser_list([_sf.Item(v) for v in values])
    if "ao-types" in out:
        types = decode_ao_types(out["ao-types"])
        out["ao-types"] = encode_ao_types({k.lower(): v for k, v in types.items()})
    return out


def _normal(tags: tuple[Tag, ...]) -> bool:
    return all(name.decode("utf-8", "replace").lower().encode() == name for name, _ in tags)


def _original_tags(tags: tuple[Tag, ...]) -> Message:
    return Message({str(i): Message(name=n, value=v) for i, (n, v) in enumerate(tags, 1)})


def item_to_message(item: DataItem) -> Message:
    """The structured message of a parsed data item (signature not checked here).

    Raises:
        DecodeError: malformed ``ao-types`` or typed tag values.
    """
    tags = _lower_tags(item.tags)
    data_key = tags.get("ao-data-key", b"data").decode("utf-8", "replace")
    data = {data_key: item.data} if item.data else {}
    fields = {"target": b64u_encode(item.target).encode()} if item.target else {}
    committed: list[str] = sorted(data, key=sort_key)
    for name, _ in item.tags:
        key = name.decode("utf-8", "replace").lower()
        if key not in META_TAGS and key not in committed:
            committed.append(key)
    if fields and "target" not in committed:
        committed.append("target")
    base: dict[str, Value] = {}
    for key in committed:
        base[key] = data.get(key, fields.get(key, tags.get(key, b"")))
    signed = any(item.signature)
    if signed or not _normal(item.tags):
        commitment: dict[str, Value] = {
            "commitment-device": DEVICE,
            "committed": tuple(k.encode() for k in committed),
            "type": _type_name(item) if signed else b"unsigned-sha256",
            "bundle": b"true" if "bundle-format" in tags else b"false",
        }
        if signed:
            commitment["committer"] = item.owner_address.encode()
            commitment["signature"] = b64u_encode(item.signature).encode()
            commitment["keyid"] = b"publickey:" + b64u_encode(item.owner).encode()
        if not _normal(item.tags):
            commitment["original-tags"] = _original_tags(item.tags)
        if item.target:
            commitment["field-target"] = b64u_encode(item.target).encode()
        if item.anchor:
            commitment["field-anchor"] = b64u_encode(item.anchor).encode()
        cid = item.id if signed else b64u_encode(item.hb_unsigned_raw_id())
        base["commitments"] = Message({cid: Message(commitment)})
    return from_tabm(base)


def _ans104_commitment(msg: Mapping[str, Any]) -> Message | None:
    comms = msg.get("commitments")
    if not isinstance(comms, Mapping):
        return None
    found = [c for c in comms.values() if isinstance(c, Message) and c.get("commitment-device") == DEVICE]
    if len(found) > 1:
        raise EncodeError("a data item carries at most one ans104@1.0 commitment")
    return found[0] if found else None


def _data_key(tabm: Mapping[str, Any]) -> str:
    data = tabm.get("data", b"")
    if not data and isinstance(tabm.get("body"), bytes):
        return "body"
    return "data"


def _tag_value(tabm: Mapping[str, Any], key: str) -> bytes:
    value = tabm.get(key)
    if value is None and isinstance(tabm.get(key + "+link"), bytes):
        value = tabm[key + "+link"]
    if not isinstance(value, bytes):
        raise EncodeError(f"key {key!r} cannot be a tag")
    return value


def message_to_item_fields(msg: Mapping[str, Any]) -> ItemFields:
    """Tags, data, target and anchor of the data item that carries ``msg``.

    Raises:
        EncodeError: values that need bundling (maps in bundle mode, tags over 3072 bytes), or
            ``original-tags`` that disagree with the message.
    """
    message = msg if isinstance(msg, Message) else Message(msg)
    tabm = to_tabm(message.without("commitments"), bundle=False)
    commitment = _ans104_commitment(message)
    data_key = _data_key(tabm)
    data = tabm.get(data_key, b"")
    if not isinstance(data, bytes):
        raise EncodeError("the data key must hold bytes")
    target = b""
    anchor = b""
    if commitment is not None:
        ft, fa = commitment.get("field-target"), commitment.get("field-anchor")
        target = b64u_decode(ft) if isinstance(ft, bytes) else b""
        anchor = b64u_decode(fa) if isinstance(fa, bytes) else b""
    raw_target = tabm.get("target")
    if not target and isinstance(raw_target, bytes) and len(raw_target) == 43:
        try:
            target = b64u_decode(raw_target)
        except DecodeError:
            target = b""
    prefix: list[Tag] = [] if data_key == "data" else [(b"ao-data-key", data_key.encode())]
    original = commitment.get("original-tags") if commitment is not None else None
    if isinstance(original, Mapping):
        tags = [_name_value(e) for e in numbered_to_tuple(original)]
        _check_original(tabm, tags)
        return ItemFields(tuple(tags), data, target, anchor)
    if commitment is not None:
        raw = commitment.get("committed", ())
        listed = numbered_to_tuple(raw) if isinstance(raw, Mapping) else raw
        if not isinstance(listed, tuple):
            raise EncodeError("committed is a list of keys")
        keys = [k.decode() for k in listed if isinstance(k, bytes)]
    else:
        keys = [k[:-5] if k.endswith("+link") else k for k in sorted(tabm, key=sort_key)]
    skip = {data_key} | ({"target"} if target else set())
    tags = prefix + [(_tag_name(k, tabm), _tag_value(tabm, k)) for k in keys if k not in skip]
    for name, value in tags:
        if len(value) > MAX_TAG_VALUE or len(name) > MAX_TAG_NAME:
            raise EncodeError(f"tag {name!r} is too large for an unbundled data item")
    return ItemFields(tuple(tags), data, target, anchor)


def _tag_name(key: str, tabm: Mapping[str, Any]) -> bytes:
    return (key if key in tabm else key + "+link").encode("utf-8")


def _name_value(entry: Value) -> Tag:
    if isinstance(entry, Mapping):
        name, value = entry.get("name"), entry.get("value")
        if isinstance(name, bytes) and isinstance(value, bytes):
            return name, value
    raise DecodeError("original-tags entries are {name, value}")


def _check_original(tabm: Mapping[str, Any], tags: list[Tag]) -> None:
    expected = _lower_tags(tuple(tags))
    for key, value in expected.items():
        if key in META_TAGS:
            continue
        have = tabm.get(key, tabm.get(key + "+link"))
        if key == "ao-types" and isinstance(have, bytes):
            if decode_ao_types(have) != decode_ao_types(value):
                raise EncodeError("ao-types differs from the signed tags")
        elif have != value:
            raise EncodeError(f"key {key!r} differs from the signed tag")


def verify_ans104_commitment(msg: Message, cid: str, c: Message) -> tuple[bool, str]:
    """Rebuild the data item a commitment signed and check it."""
    try:
        fields = message_to_item_fields(Message({**msg, "commitments": Message({cid: c})}))
    except CoreError as exc:
        return False, str(exc)
    kind = c.get("type")
    if kind == b"unsigned-sha256":
        expected = b64u_encode(fields.unsigned_item().hb_unsigned_raw_id())
        return cid == expected, "" if cid == expected else "unsigned id does not match"
    keyid, sig = c.get("keyid"), c.get("signature")
    if not isinstance(keyid, bytes) or not isinstance(sig, bytes):
        return False, "no keyid or signature"
    owner = b64u_decode(keyid.partition(b":")[2] if keyid.startswith(b"publickey:") else keyid)
    signature = b64u_decode(sig)
    sig_type = next(
        (
            code
            for code, st in SIGNATURE_TYPES.items()
            if len(owner) == st.owner_len and len(signature) == st.signature_len
        ),
        None,
    )
    if sig_type is None:
        return False, "unknown key and signature sizes"
    item = DataItem(sig_type, signature, owner, fields.target, fields.anchor, fields.tags, fields.data)
    if item.id != cid or hashlib.sha256(signature).digest() != b64u_decode(cid):
        return False, "commitment id is not the item id"
    committer = c.get("committer")
    if isinstance(committer, bytes) and committer.decode() != item.owner_address:
        return False, "committer does not match the owner"
    ok = item.verify()
    return ok, "" if ok else "data item signature does not verify"


ans104_to_message = item_to_message
