"""``message_id`` cost for common messages, against references measured in the same run.

For a small flat message, a nested one and a signed one it prints microseconds per
``message_id(msg)`` on a fresh instance (ids are memoised per instance) and two ratios:

* ``general`` — the general path (``hmac_over``: structured → TABM → httpsig fields → signature
  base → HMAC) that ``message_id`` skips for flat messages (nested values inside it still get
  their link ids through ``message_id``);
* ``sha256`` — ``hashlib.sha256`` over the same signature-base bytes (the hashing floor).

Run: ``python -m bench.ids [--seconds S]`` (time per measurement, default 0.3). Not a test.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typing import TYPE_CHECKING

from devices.core import Message, RsaWallet, commit, message_id
from devices.core._commit import _commitments, hmac_over, is_hmac, keys_to_commit
from devices.core._siginfo import base_params, committed_list, normalize_for_encoding, signature_base
from devices.core._structured import to_tabm

if TYPE_CHECKING:
    from collections.abc import Callable


def per_call_us(fn: Callable[[], object], seconds: float) -> float:
    """Best of five rounds of ``seconds / 5`` each, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        count, start = 0, time.perf_counter()
        while True:
            for _ in range(50):
                fn()
            count += 50
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / 5:
                break
        best = min(best, elapsed / count * 1e6)
    return best


def _hmac_keys(msg: Message) -> list[str] | None:
    stored = [c for c in _commitments(msg).values() if is_hmac(c)]
    return committed_list(stored[0]) if len(stored) == 1 else None


def general_id(msg: Message) -> str:
    """The unsigned id through ``hmac_over`` only (what ``message_id`` did for every message)."""
    return hmac_over(msg.without("commitments"), _hmac_keys(msg))[0]


def base_of(msg: Message) -> bytes:
    body = msg.without("commitments")
    tabm = to_tabm(body, bundle=False)
    keys = _hmac_keys(msg) or keys_to_commit(tabm, {})
    encoded, components, _ = normalize_for_encoding(tabm, keys)
    return signature_base(encoded, components, base_params({"type": b"hmac-sha256", "keyid": b"constant:ao"}))


def fresh_ids_us(msg: Message, count: int = 3000) -> float:
    """Best of three: microseconds per ``message_id`` over ``count`` fresh deep copies of ``msg``
    (ids are memoised per instance, nested ones too; the memo is not what is measured here)."""
    best = float("inf")
    for _ in range(3):
        copies = [pickle.loads(pickle.dumps(msg)) for _ in range(count)]
        start = time.perf_counter()
        for copy in copies:
            message_id(copy)
        best = min(best, (time.perf_counter() - start) / count * 1e6)
    return best


def main(seconds: float | None = None) -> None:
    if seconds is None:
        seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 0.3
    flat = Message({"slot": 7, "data": b"x" * 64})
    nested = Message({"slot": 7, "data": b"x" * 64, "inner": {"a": 1, "b": b"zz", "c": [1, 2, b"q"]}})
    signed = commit(Message({"slot": 7, "data": b"x" * 64, "Action": b"Eval"}), RsaWallet.generate(2048))
    for label, msg in (("small flat", flat), ("nested", nested), ("signed", signed)):
        assert message_id(msg) == general_id(msg)
        base = base_of(msg)
        ids = fresh_ids_us(msg)
        general = per_call_us(partial(general_id, msg), seconds)
        floor = per_call_us(partial(hashlib.sha256, base), seconds)
        print(
            f"message_id {label:10s} {ids:7.1f} us   general path {general:7.1f} us "
            f"({general / ids:5.2f}x)   sha256(base, {len(base)} B) {floor:5.2f} us ({ids / floor:6.1f}x floor)"
        )


if __name__ == "__main__":
    main()
