"""Deterministic stand-ins for the message layer (until the real codecs are merged).

``fake_ops(key)`` ids a message by sha256 of its canonical CBOR (commitments excluded for the
signed part) and "signs" with HMAC-SHA256 under ``key``; ``verify`` really recomputes the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

import cbor2
import lmdb

from devices.core import Message, b64u_encode
from devices.scheduler import MessageOps

if TYPE_CHECKING:
    from pathlib import Path

NODE_KEY = b"node-test-key"
NODE_ADDR = b64u_encode(hashlib.sha256(NODE_KEY).digest())


def canonical(msg: Message) -> bytes:
    return cbor2.dumps(msg.to_python(), canonical=True)


def _covered(msg: Message, keys: list[str]) -> Message:
    return Message({k: msg[k] for k in keys if k in msg})


def _sig(key: bytes, msg: Message, keys: list[str]) -> str:
    return b64u_encode(hmac.new(key, canonical(_covered(msg, keys)), hashlib.sha256).digest())


def message_id(msg: Message) -> str:
    """Like the real "all" id: signed messages are named by their commitment ids (so uncommitted
    keys such as ``device`` or ``path`` do not change the id), unsigned ones by their content."""
    comms = msg.get_message("commitments")
    if comms:
        return b64u_encode(hashlib.sha256("|".join(sorted(comms)).encode()).digest())
    return b64u_encode(hashlib.sha256(canonical(msg)).digest())


def _committed(c: Message) -> list[str]:
    value = c.get("committed")
    return [v.decode() for v in value if isinstance(v, bytes)] if isinstance(value, tuple) else []


def signer(key: bytes):
    addr = b64u_encode(hashlib.sha256(key).digest())

    def sign(msg: Message) -> Message:
        keys = sorted(k for k in msg if k != "commitments")
        sig = _sig(key, msg, keys)
        comms = dict(msg.get_message("commitments") or {})
        comms[sig] = {"committer": addr, "type": "hmac-test", "signature": sig, "committed": keys}
        return msg.set("commitments", comms)

    return sign


def committed_only(msg: Message) -> Message:
    comms = msg.get_message("commitments")
    if not comms:
        return msg
    keys = {k for c in comms.values() if isinstance(c, Message) for k in _committed(c)}
    return Message({k: v for k, v in msg.items() if k in keys or k == "commitments"})


KEYS = {b64u_encode(hashlib.sha256(k).digest()): k for k in (NODE_KEY, b"alice", b"bob")}


def verify(msg: Message) -> bool:
    comms = msg.get_message("commitments")
    if comms is None:
        return True  # unsigned messages carry no claim to check
    for cid, c in comms.items():
        if not isinstance(c, Message):
            return False
        key = KEYS.get(c.get_text("committer") or "")
        if key is None or not hmac.compare_digest(_sig(key, msg, _committed(c)), cid):
            return False
    return True


def signers(msg: Message) -> list[str]:
    comms = msg.get_message("commitments") or Message()
    return [c.get_text("committer") or "" for c in comms.values() if isinstance(c, Message)]


def fake_ops() -> MessageOps:
    return MessageOps(
        message_id=message_id,
        sign=signer(NODE_KEY),
        verify=verify,
        signers=signers,
        committed_only=committed_only,
    )


def open_env(path: Path, *, sync: bool = True) -> lmdb.Environment:
    return lmdb.open(str(path), max_dbs=8, map_size=256 << 20, sync=sync, metasync=sync)


def user_msg(n: int, target: str, key: bytes = b"alice", **extra: object) -> Message:
    return signer(key)(Message({"type": "Message", "target": target, "n": n, **extra}))


def process_def(name: str = "p", **extra: object) -> Message:
    return signer(b"alice")(
        Message({"type": "Process", "device": "process@1.0", "scheduler": NODE_ADDR, "name": name, **extra})
    )
