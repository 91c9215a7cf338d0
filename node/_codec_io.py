"""The node's single doorway to the AO-Core codecs of ``devices.core``.

Every call the node makes into the codec layer goes through one function here, so the request
decoder, the reply encoder, typed-value decoding, verification, signing and hashpaths each have
exactly one call site.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import devices.core as core
from devices.core import Message, Value
from devices.core.ans104 import DataItem

if TYPE_CHECKING:
    from collections.abc import Mapping


def decode_value(type_name: str, raw: bytes) -> Value:
    """Decode ``raw`` as a value of AO type ``type_name`` (``integer``, ``float``, ``atom`` ...).

    Raises:
        DecodeError: an unknown type, or ``raw`` is not a value of that type.
    """
    return core.decode_value(type_name, raw)


def decode_ao_types(raw: bytes) -> dict[str, str]:
    """Parse an ``ao-types`` dictionary (``n="integer", list=list``) into key → type name.

    Raises:
        DecodeError: malformed dictionary.
    """
    parsed: Mapping[str, Any] = core.decode_ao_types(raw)
    return {str(k): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in parsed.items()}


def hashpath(base: Value | str, req: Message) -> str | None:
    """The hashpath linking a result to ``(base, req)``; ``base`` may be the previous step's
    hashpath. ``None`` when the base has none (a list or number base, a malformed hashpath)."""
    if not isinstance(base, Message | bytes | str):
        return None
    try:
        return core.hashpath(base, req)
    except core.CoreError:
        return None


def message_ids(msg: Message) -> list[str]:
    """Every id the message is known by: its unsigned id, its signed id, each commitment id."""
    ids = [core.message_id(msg, "none"), core.message_id(msg, "all")]
    commitments = msg.get_message("commitments")
    if commitments is not None:
        ids.extend(commitments)
    return list(dict.fromkeys(ids))


# -- request decoding, verification, reply signing and encoding ----------------------------------

Headers = tuple[tuple[str, str], ...]


def decode_request(codec: str, headers: Headers, body: bytes) -> Message:
    """The request message of an HTTP request whose body is in ``codec``.

    Raises:
        CoreError: the body or signature headers are malformed (the edge answers 400).
        SignatureInvalid: an ANS-104 item whose signature does not verify.
        Unsupported: no decoder for ``codec`` on this node (415).
    """
    if codec == "httpsig@1.0":
        return core.httpsig_decode(headers, body)
    if codec == "json@1.0":
        return core.json_decode(body)
    if codec == "flat@1.0":
        return core.flat_decode(body)
    if codec == "ans104@1.0":
        return item_message(parse_item(body))
    raise Unsupported(f"unknown request codec {codec!r}")


def parse_item(raw: bytes) -> DataItem:
    """Parse one ANS-104 data item and check its signature.

    Raises:
        DecodeError: malformed item (with byte offset).
        SignatureInvalid: the signature does not verify (naming the item id).
    """
    item = DataItem.parse(raw)
    item.verify_or_raise()
    return item


def item_message(item: DataItem) -> Message:
    """The message form of a parsed ANS-104 item (spec §13.7)."""
    return core.item_to_message(item)


class Unsupported(core.CoreError):
    """The node has no codec for this (415)."""

    status_hint = 415


def verify_request(msg: Message) -> tuple[str, ...]:
    """Verify every commitment of a request; return the verified signers' addresses.

    A message without commitments, or with only the HMAC one, is unsigned (``()``).

    Raises:
        SignatureInvalid: a commitment does not verify (the reason names it).
    """
    if msg.get_message("commitments") is None:
        return ()
    return tuple(core.require_valid(msg).committers)


def only_committed(msg: Message) -> Message:
    """The message restricted to its committed keys and commitments (spec §11 D22)."""
    return core.only_committed(msg)


def signers(msg: Message) -> list[str]:
    """The claimed signers of ``msg`` (no verification; for deciding whether to sign a reply)."""
    return core.signers(msg)


def sign_reply(msg: Message, wallet: core.RsaWallet, hashpath: str | None) -> Message:
    """``msg`` committed by the node wallet, with ``tag = hashpath`` when there is one."""
    return core.commit(msg, wallet, tag=hashpath)


def encode_reply(msg: Message, codec: str, *, bundle: bool) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of a reply in ``codec`` (``httpsig@1.0`` or ``json@1.0``).

    Raises:
        EncodeError: the message holds values the codec cannot represent.
    """
    if codec == "json@1.0":
        return [("codec-device", "json@1.0"), ("content-type", "application/json")], core.json_encode(msg)
    parts = core.httpsig_encode(msg, bundle=bundle)
    return list(parts.headers), parts.body


def json_body(value: Mapping[str, Any]) -> bytes:
    """A plain JSON object as bytes (error bodies)."""
    return json.dumps(dict(value), separators=(",", ":")).encode("utf-8")
