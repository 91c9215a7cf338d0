"""httpsig unsigned-id throughput vs the raw primitives, measured in the same run.

For a message with a 1 KiB and a 1 MiB body (plus a few small keys) it times:

* ``message_id(msg)`` — structured → TABM → httpsig encoding → signature base → HMAC-SHA256;
* ``httpsig_encode`` + ``httpsig_decode`` (bundle mode) of the same message;
* the reference floor: ``sha256(body)`` (the content digest) plus ``hmac(constant:ao, base)``
  over a base of the same size, using hashlib/hmac directly.

Prints operations per second and the ratio to the floor. Not a test.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typing import TYPE_CHECKING

from devices.core import Message, httpsig_decode, httpsig_encode, message_id

if TYPE_CHECKING:
    from collections.abc import Callable


def rate(fn: Callable[[], object], min_time: float = 0.5) -> float:
    count, start = 0, time.perf_counter()
    while True:
        fn()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return count / elapsed


def main() -> None:
    for label, size in (("1 KiB", 1024), ("1 MiB", 1 << 20)):
        body = bytes(range(256)) * (size // 256)
        msg = Message({"body": body, "action": b"Eval", "n": 7, "target": b"x" * 43})
        base = b'"content-digest": sha-256=:' + b"x" * 44 + b':\n"action": Eval\n' * 3

        def floor(body: bytes = body, base: bytes = base) -> None:
            hashlib.sha256(body).digest()
            hmac.new(b"constant:ao", base, hashlib.sha256).digest()

        def encode_decode(msg: Message = msg) -> None:
            parts = httpsig_encode(msg)
            httpsig_decode(parts.headers, parts.body)

        ref = rate(floor)
        ids = rate(lambda msg=msg: message_id(msg))
        codec = rate(encode_decode)
        print(f"{label}: hashlib+hmac floor {ref:10.0f}/s")
        print(f"{label}: message_id         {ids:10.0f}/s  ({ids / ref:6.3f} x floor)")
        print(f"{label}: encode+decode      {codec:10.0f}/s  ({codec / ref:6.3f} x floor)")


if __name__ == "__main__":
    main()
