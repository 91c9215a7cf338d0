"""ANS-104 throughput: parse+verify and sign of type-1 (RSA-4096) items with 1 KiB and 1 MiB data.

Every figure is printed as items/s and as a ratio against a reference measured in the same run:
the raw ``cryptography`` RSA-4096 PSS verify / sign of a 48-byte message (the floor any ANS-104
implementation pays), and @dha-team/arbundles under Node on the very same items when
``tests/interop/node_modules`` is installed. Types 2 and 3 are shown for comparison.

    python bench/codecs_ans104.py [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

from devices.core import Ed25519Key, RsaWallet  # noqa: E402
from devices.core.ans104 import DataItem, EthereumKey, Signer, UnsignedItem, sign_item  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

INTEROP = ROOT / "tests" / "interop"
TAGS = [(b"Data-Protocol", b"ao"), (b"Type", b"Message"), (b"Action", b"Eval")]


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn``, measured for about ``seconds`` after one warm-up call."""
    fn()
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        fn()
        n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def wallet() -> RsaWallet:
    vectors = Path(os.environ.get("AO_VECTORS", str(ROOT / ".." / "shared" / "vectors")))
    key = vectors / "hyperbeam-test-data" / "key-1.json"
    return RsaWallet.load(key) if key.exists() else RsaWallet.generate(4096)


def node_rates(raw: bytes, n: int) -> dict[str, float] | None:
    if shutil.which("node") is None or not (INTEROP / "node_modules" / "@dha-team" / "arbundles").exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "item.bin"
        path.write_bytes(raw)
        done = subprocess.run(
            ["node", str(INTEROP / "arbundles_verify.mjs"), "bench", str(path), str(n)],
            cwd=INTEROP,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    args = parser.parse_args()
    secs = args.seconds

    w = wallet()
    pub = w.private_key.public_key()
    dh = bytes(range(48))
    pss32 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    pss_auto = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    sig = w.private_key.sign(dh, pss32, hashes.SHA256())
    ref_verify = rate(lambda: pub.verify(sig, dh, pss_auto, hashes.SHA256()), secs)
    ref_sign = rate(lambda: w.private_key.sign(dh, pss32, hashes.SHA256()), secs)
    print(f"reference cryptography RSA-4096 PSS: verify {ref_verify:10.0f}/s   sign {ref_sign:8.1f}/s")
    print()
    print(f"{'case':<26}{'items/s':>11}{'vs raw RSA':>12}{'arbundles/s':>13}{'vs arbundles':>14}")

    signers: dict[int, Signer] = {1: w, 2: Ed25519Key.generate(), 3: EthereumKey.generate()}
    for size_name, size in (("1 KiB", 1024), ("1 MiB", 1024 * 1024)):
        data = os.urandom(size)
        for code, signer in signers.items():
            unsigned = UnsignedItem(data, TAGS)
            raw = sign_item(unsigned, signer).serialize()

            def verify(raw: bytes = raw) -> None:
                if not DataItem.parse(raw).verify():
                    raise SystemExit("benchmark item does not verify")

            def sign(unsigned: UnsignedItem = unsigned, signer: Signer = signer) -> None:
                sign_item(unsigned, signer)

            ours_verify = rate(verify, secs)
            ours_sign = rate(sign, secs)
            js = node_rates(raw, 20 if size > 4096 else 200) if code == 1 else None
            for what, ours, ref, js_rate in (
                ("verify", ours_verify, ref_verify, js["verify_per_s"] if js else None),
                ("sign", ours_sign, ref_sign, js["sign_per_s"] if js else None),
            ):
                label = f"type {code} {what} {size_name}"
                ref_col = f"{ours / ref:11.2f}x" if code == 1 else f"{'':>12}"
                js_cols = f"{js_rate:13.1f}{ours / js_rate:13.2f}x" if js_rate else f"{'-':>13}{'-':>14}"
                print(f"{label:<26}{ours:11.1f}{ref_col}{js_cols}")


if __name__ == "__main__":
    main()
