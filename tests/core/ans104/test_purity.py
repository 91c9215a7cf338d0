"""The ANS-104 codec is sans-io: importing it pulls in no event loop or network stack."""

from __future__ import annotations

import subprocess
import sys

import devices.core.ans104 as ans104


def test_import_pulls_in_no_io_library() -> None:
    code = (
        "import sys, devices.core.ans104\n"
        "io = {'trio', 'libp2p', 'hypercorn', 'trio_websocket'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in io)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_public_names_are_exported_exactly_once() -> None:
    assert len(ans104.__all__) == len(set(ans104.__all__))
    for name in ans104.__all__:
        assert hasattr(ans104, name), name
    public = {n for n in vars(ans104) if not n.startswith("_") and n != "annotations"}
    assert public == set(ans104.__all__)
