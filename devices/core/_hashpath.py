"""Hashpaths (``hb_path``, Sep 2025): ``<base>/<request reference>``, chained two parts at a time.

* The hashpath of a base message is its ``priv/hashpath`` when that is well formed, else the sum
  of all its commitment ids (HyperBEAM asks for ``commitments: all``), or its unsigned id when it
  has none; a byte string's is ``b64u(sha256(bytes))``.
* A request is referenced by the first element of its ``path`` when it has no other keys
  (besides ``path``, ``hashpath`` and private keys), else by its id computed the same way.
* ``hashpath(a/b, r)`` = ``b64u(alg(a, b)) + "/" + r`` with ``alg`` from the base's
  ``hashpath-alg``: ``sha-256-chain`` (default, ``sha256(a ‖ b)``) or ``accumulate-256``
  (``a + b mod 2^256`` — Sep's ``hb_crypto:accumulate/2``; May added ``sha256(a ‖ b)`` instead).
  ``b`` is decoded when it is a 43-character id and used as text otherwise.
* HyperBEAM crashes on a stored hashpath of more than two parts (D17); we ignore a malformed
  stored hashpath (falling back to the message's id) and reject malformed text arguments.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from ._b64 import b64u_decode, b64u_encode
from ._commit import _commitments
from ._errors import DecodeError
from ._ids import accumulate, message_id
from ._message import is_private

_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
ALGS = ("sha-256-chain", "accumulate-256")


def sha256_chain(a: bytes, b: bytes) -> bytes:
    if len(a) != 32:
        raise DecodeError("a hashpath chain starts from a 32-byte id")
    return hashlib.sha256(a + b).digest()


def accumulate_256(a: bytes, b: bytes) -> bytes:
    if len(a) != 32 or len(b) != 32:
        raise DecodeError("accumulate-256 needs two 32-byte values")
    return ((int.from_bytes(a, "big") + int.from_bytes(b, "big")) % (1 << 256)).to_bytes(32, "big")


def is_valid_hashpath(text: str) -> bool:
    parts = text.split("/")
    return (len(parts) == 1 and bool(_ID.match(parts[0]))) or (
        len(parts) == 2 and bool(_ID.match(parts[0])) and bool(parts[1])
    )


def commitments_id(msg: Mapping[str, Any]) -> str:
    """Id over all commitments (summed), or the unsigned id when there are none."""
    ids = sorted(_commitments(msg))
    return accumulate(ids) if ids else message_id(msg, "none")


def hashpath_of(msg: Mapping[str, Any] | bytes) -> str:
    """The hashpath a base message contributes."""
    if isinstance(msg, bytes):
        return b64u_encode(hashlib.sha256(msg).digest())
    priv = msg.get("priv")
    stored = priv.get("hashpath") if isinstance(priv, Mapping) else None
    if isinstance(stored, bytes):
        text = stored.decode("utf-8", "replace")
        if is_valid_hashpath(text):
            return text
    return commitments_id(msg)


def request_ref(req: Mapping[str, Any]) -> str:
    """How a request message appears in a hashpath: its key name, or its id."""
    rest = [k for k in req if k not in ("path", "hashpath") and not is_private(k)]
    path = req.get("path")
    if not rest and path is not None:
        parts: list[str] = []
        if isinstance(path, bytes):
            parts = [p for p in path.decode("utf-8", "replace").split("/") if p]
        elif isinstance(path, tuple):
            parts = [p.decode("utf-8", "replace") for p in path if isinstance(p, bytes)]
        if parts:
            return parts[0]
    return commitments_id(req)


def hashpath(
    base: Mapping[str, Any] | str | bytes, req: Mapping[str, Any] | str, *, alg: str | None = None
) -> str:
    """The hashpath of resolving ``req`` on ``base``.

    ``base`` is a message, a byte string or an existing hashpath; ``req`` a message or a ready
    reference (key name or id).

    Raises:
        DecodeError: a malformed hashpath argument or an unknown ``hashpath-alg``.
    """
    if isinstance(base, str):
        if not is_valid_hashpath(base):
            raise DecodeError(f"malformed hashpath {base!r}")
        prev = base
    else:
        prev = hashpath_of(base)
    if alg is None:
        chosen = base.get("hashpath-alg") if isinstance(base, Mapping) else None
        alg = chosen.decode("utf-8", "replace") if isinstance(chosen, bytes) else "sha-256-chain"
    if alg not in ALGS:
        raise DecodeError(f"unknown hashpath-alg {alg!r}")
    ref = req if isinstance(req, str) else request_ref(req)
    parts = prev.split("/")
    if len(parts) == 1:
        return f"{prev}/{ref}"
    first = b64u_decode(parts[0])
    second = b64u_decode(parts[1]) if len(parts[1]) == 43 else parts[1].encode("utf-8")
    fn = sha256_chain if alg == "sha-256-chain" else accumulate_256
    return f"{b64u_encode(fn(first, second))}/{ref}"
