"""Attestation throughput: one signature per result vs one signature per Merkle batch.

Run: ``python bench/attest.py [--rsa-bits 4096] [--seconds 1.0]``. Every figure is printed as
results per second and as a ratio against the raw signing (or verifying) primitive measured in the
same run, so the numbers compare across machines. Target: batched signing of 64+ results at least
10x the per-result signing throughput.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typing import TYPE_CHECKING

from attest import (
    Statement,
    sign_attestation,
    sign_batch,
    verify_attestation,
    verify_with_proof,
)
from devices.core import Ed25519Key, RsaWallet, ed25519_verify, rsa_pss_verify

if TYPE_CHECKING:
    from collections.abc import Callable


def rate(fn: Callable[[], int], seconds: float) -> float:
    """Results per second: ``fn`` does some work and returns how many results it handled."""
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        done += fn()
    return done / elapsed


def statements(attester: str, n: int, base: int = 0) -> list[Statement]:
    return [
        Statement(
            process="P" * 43,
            slot=base + i,
            result=f"{i:043d}",
            hashpath="H" * 43 + "/" + "R" * 43,
            device_stack=("wasm-64@1.0", "json-iface@1.0"),
            attester=attester,
        )
        for i in range(n)
    ]


def bench(
    name: str,
    signer: RsaWallet | Ed25519Key,
    raw_sign: Callable[[bytes], bytes],
    raw_verify: Callable[[bytes, bytes], bool],
    seconds: float,
) -> None:
    msg = b"m" * 64
    sig = raw_sign(msg)
    sign_ref = rate(lambda: (raw_sign(msg), 1)[1], seconds)
    verify_ref = rate(lambda: (raw_verify(msg, sig), 1)[1], seconds)
    print(f"\n== {name}: raw sign {sign_ref:,.0f}/s, raw verify {verify_ref:,.0f}/s")
    one = statements(signer.address, 1)[0]
    single = sign_attestation(one, signer)
    s1 = rate(lambda: (sign_attestation(one, signer), 1)[1], seconds)
    v1 = rate(lambda: (verify_attestation(single), 1)[1], seconds)
    print(
        f"  single     sign {s1:>10,.0f}/s ({s1 / sign_ref:6.2f}x raw)   verify {v1:>10,.0f}/s "
        f"({v1 / verify_ref:6.2f}x raw)"
    )
    for size in (64, 256, 1024):
        batch = statements(signer.address, size)
        sb = rate(lambda b=batch: (sign_batch(b, signer), len(b))[1], seconds)
        header, proofs = sign_batch(batch, signer)

        def verify_all(b: list[Statement] = batch, h: object = header, p: list[object] = proofs) -> int:
            assert verify_with_proof(b[0], p[0], h).valid  # type: ignore[arg-type]
            for s, pr in zip(b[1:], p[1:], strict=True):
                assert verify_with_proof(s, pr, h, header_checked=True).valid  # type: ignore[arg-type]
            return len(b)

        vb = rate(verify_all, seconds)
        print(
            f"  batch {size:>4} sign {sb:>10,.0f}/s ({sb / sign_ref:6.2f}x raw, {sb / s1:6.1f}x single)   "
            f"verify {vb:>10,.0f}/s ({vb / verify_ref:6.2f}x raw, {vb / v1:6.1f}x single)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rsa-bits", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    wallet = RsaWallet.generate(args.rsa_bits)
    key = Ed25519Key.generate()
    bench(
        f"RSA-{args.rsa_bits} PSS-SHA256 (Arweave wallet)",
        wallet,
        lambda m: wallet.sign_pss(m, "sha256", 32),
        lambda m, s: rsa_pss_verify(wallet.modulus, m, s, "sha256"),
        args.seconds,
    )
    bench("Ed25519", key, key.sign, lambda m, s: ed25519_verify(key.public_bytes, m, s), args.seconds)


if __name__ == "__main__":
    main()
