"""A statement's canonical CBOR (its Merkle leaf), assembled without a map or a sort.

``Statement.to_cbor`` must be ``cbor2.dumps(facts(), canonical=True)`` byte for byte, and it is built
once per statement on every hop, so it is put together here from parts:

* the map's keys are fixed, so their canonical order (shorter first, then bytewise: ``slot``,
  ``result``, ``process``, ``attester``, ``evidence``, ``hashpath``, ``device-stack``) and their
  encodings are constants;
* each value gets the minimal head a canonical encoder writes (``_head``, or a table for short
  text);
* the keys and values that repeat from statement to statement (process, attester and evidence; the
  device stack) are encoded once and cached; slots, result ids and hashpaths are encoded every time.

Anything but the plain case (a slot that is not an ``int`` in 0..2**64-1, a value that is not text,
a device stack that is not a tuple of text, text that is not valid UTF-8) goes through cbor2's
canonical encoder instead, which also raises what it raises for values it cannot encode.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import cbor2

if TYPE_CHECKING:
    from ._attestation import Statement

# Canonical order: shorter keys first, then bytewise.
_ORDER = ("slot", "result", "process", "attester", "evidence", "hashpath", "device-stack")

_U64_MAX = (1 << 64) - 1
_KEY = {name: cbor2.dumps(name) for name in _ORDER}
_START6 = b"\xa6" + _KEY["slot"]  # a map of six keys (seven with ``evidence``), then the first key
_START7 = b"\xa7" + _KEY["slot"]
_SMALL_SLOT = [bytes((n,)) + _KEY["result"] for n in range(24)]  # the value in the head itself
_TEXT_HEAD = [bytes((0x60 | n,)) if n < 24 else bytes((0x78, n)) for n in range(256)]


def _head(major: int, n: int) -> bytes:
    """The shortest head of major type ``major`` (already shifted: 0x00, 0x60, 0x80 ...) for ``n``."""
    if n < 24:
        return bytes((major | n,))
    if n < 0x100:
        return bytes((major | 24, n))
    if n < 0x10000:
        return bytes((major | 25,)) + n.to_bytes(2, "big")
    if n < 0x1_0000_0000:
        return bytes((major | 26,)) + n.to_bytes(4, "big")
    return bytes((major | 27,)) + n.to_bytes(8, "big")


def _text(value: str) -> bytes:
    raw = value.encode()
    n = len(raw)
    return (_TEXT_HEAD[n] if n < 256 else _head(0x60, n)) + raw


@lru_cache(maxsize=1024)
def _middle(process: str, attester: str, evidence: str | None) -> bytes:
    """The keys and values between ``result`` and ``hashpath``: the same for many statements."""
    out = _KEY["process"] + _text(process) + _KEY["attester"] + _text(attester)
    return out if evidence is None else out + _KEY["evidence"] + _text(evidence)


@lru_cache(maxsize=256)
def _stack(stack: tuple[str, ...]) -> bytes:
    return _KEY["device-stack"] + _head(0x80, len(stack)) + b"".join(map(_text, stack))


def statement_cbor(statement: Statement) -> bytes:
    """``cbor2.dumps(statement.facts(), canonical=True)``."""
    slot, evidence = statement.slot, statement.evidence
    if type(slot) is int and 0 <= slot <= _U64_MAX:
        try:
            result = statement.result.encode()
            hashpath = statement.hashpath.encode()
            n, m = len(result), len(hashpath)
            return b"".join(
                (
                    _START6 if evidence is None else _START7,
                    _SMALL_SLOT[slot] if slot < 24 else _head(0, slot) + _KEY["result"],
                    _TEXT_HEAD[n] if n < 256 else _head(0x60, n),
                    result,
                    _middle(statement.process, statement.attester, evidence),
                    _KEY["hashpath"],
                    _TEXT_HEAD[m] if m < 256 else _head(0x60, m),
                    hashpath,
                    _stack(statement.device_stack),
                )
            )
        except (AttributeError, TypeError, UnicodeEncodeError):  # not text, a list, text that is not UTF-8
            pass
    return cbor2.dumps(statement.facts(), canonical=True)
