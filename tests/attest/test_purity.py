"""``attest`` is pure and synchronous: importing it never loads trio or libp2p."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import attest


def test_import_attest_loads_no_trio_or_libp2p() -> None:
    code = (
        "import sys, attest, attest._file, attest._sim, attest._provider;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('trio', 'libp2p', 'hypercorn'));"
        "print(','.join(bad))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_every_public_name_is_exported_once() -> None:
    assert len(attest.__all__) == len(set(attest.__all__))
    for name in attest.__all__:
        assert getattr(attest, name) is not None
    public = {n for n in dir(attest) if not n.startswith("_") and n not in ("annotations",)}
    assert public == set(attest.__all__)
