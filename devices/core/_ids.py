"""Message ids (``dev_message:id``, Sep 2025).

* ``none`` / ``default`` (also ``unsigned``, ``uncommitted``): the unsigned id — the HMAC-SHA256
  commitment (key ``constant:ao``) over the message's httpsig encoding in link mode. An HMAC
  commitment already on the message fixes the covered keys, but the value is always recomputed,
  so a forged HMAC commitment cannot claim an id.
* ``all`` / ``signed``: the signers' commitment ids summed as 256-bit integers (mod 2^256); the
  unsigned id when there is no signer.
* A byte string's id is ``b64u(sha256(bytes))``; a list's id is that of its numbered message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ._b64 import b64u_decode, b64u_encode
from ._commit import _commitments, hmac_over, is_hmac, signer_ids
from ._errors import DecodeError
from ._message import Message, Value
from ._siginfo import committed_list
from ._structured import list_to_tabm

IdMode = Literal["default", "none", "unsigned", "uncommitted", "all", "signed"]


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
    if isinstance(msg, bytes):
        return b64u_encode(hashlib.sha256(msg).digest())
    if isinstance(msg, tuple):
        return hmac_over(list_to_tabm(msg, bundle=False))[0]
    if not isinstance(msg, Mapping):
        raise DecodeError(f"no id for a {type(msg).__name__}")
    message = msg if isinstance(msg, Message) else Message(msg)
    if mode in ("all", "signed"):
        signed = signer_ids(message)
        if signed:
            return accumulate(signed)
    elif mode not in ("default", "none", "unsigned", "uncommitted"):
        raise DecodeError(f"unknown id mode {mode!r}")
    return unsigned_id(message)


def unsigned_id(msg: Message) -> str:
    """The HMAC id over the keys of the message's HMAC commitment, or over every key (memoised on
    the immutable ``msg``)."""
    if msg._id is not None:
        return msg._id
    stored = [c for c in _commitments(msg).values() if is_hmac(c)]
    keys = committed_list(stored[0]) if len(stored) == 1 else None
    bundle = len(stored) == 1 and stored[0].get("bundle") == b"true"
    body = msg.without("commitments") if "commitments" in msg else msg
    ident = hmac_over(body, keys, bundle=bundle)[0]
    object.__setattr__(msg, "_id", ident)
    return ident
