"""All codec benchmarks in one process: ANS-104 (``bench.codecs_ans104``), httpsig
(``bench.codecs_httpsig``) and message ids (``bench.ids``), each printing its figures as ratios
against references measured in the same run (raw ``cryptography`` RSA, arbundles under Node when
installed, hashlib+hmac floor, the general id path and sha256 over the signature base).

Run: ``python -m bench.codecs [--seconds S]`` (``--seconds`` goes to the ANS-104 part).
"""

from __future__ import annotations

import sys
import time

from bench import codecs_ans104, codecs_httpsig, ids


def main() -> None:
    argv = sys.argv[1:]
    started = time.perf_counter()
    print("== ANS-104 (bench.codecs_ans104) ==")
    saved = sys.argv
    sys.argv = [codecs_ans104.__file__ or "codecs_ans104", *argv]
    try:
        codecs_ans104.main()
    finally:
        sys.argv = saved
    print()
    print("== httpsig (bench.codecs_httpsig) ==")
    codecs_httpsig.main()
    print()
    print("== message ids (bench.ids) ==")
    ids.main(seconds=0.3)
    print()
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
