"""Hash chains over a process's schedule (pure).

* HyperBEAM (``ao.N.1``): ``hc_n = sha256(prev_raw ‖ ascii(message id))`` with ``prev_0 = b""``;
  the assignment carries ``base64url(hc_n)``. We keep ``prev`` as the raw 32 bytes across
  restarts (HyperBEAM re-reads the *text* after a restart — a defect we do not copy).
* Legacy SU (``ao.TN.1``): first ``sha256(b64d(process id))``, then
  ``sha256(b64d(prev assignment id) ‖ b64d(prev chain))``; both inputs must be 32 bytes.
"""

from __future__ import annotations

import hashlib

from devices._errors import BadRequest
from devices.core import DecodeError, b64u_decode, b64u_encode


def next_hash_chain(prev: bytes, message_id: str) -> bytes:
    """The raw next link of a HyperBEAM hash chain (``prev`` empty for slot 0)."""
    if prev and len(prev) != 32:
        raise BadRequest(f"hash-chain head must be 32 bytes, got {len(prev)}")
    return hashlib.sha256(prev + message_id.encode("ascii")).digest()


def next_hash_chain_text(prev_text: str, message_id: str) -> str:
    """HyperBEAM's restart quirk: the previous link taken as its 43-character *text*.

    Only for byte-exact replication of a HyperBEAM node that restarted; never used by default.
    """
    return b64u_encode(hashlib.sha256(prev_text.encode("ascii") + message_id.encode("ascii")).digest())


def _id32(text: str, what: str) -> bytes:
    try:
        raw = b64u_decode(text)
    except DecodeError as exc:
        raise BadRequest(f"{what} is not base64url") from exc
    if len(raw) != 32:
        raise BadRequest(f"{what} must decode to 32 bytes, got {len(raw)}")
    return raw


def legacy_first_hash_chain(process_id: str) -> str:
    """Legacy SU chain value of a new process."""
    return b64u_encode(hashlib.sha256(_id32(process_id, "process id")).digest())


def legacy_next_hash_chain(prev_assignment_id: str, prev_hash_chain: str) -> str:
    """Legacy SU chain value following ``(prev assignment id, prev chain)``."""
    data = _id32(prev_assignment_id, "assignment id") + _id32(prev_hash_chain, "hash chain")
    return b64u_encode(hashlib.sha256(data).digest())
