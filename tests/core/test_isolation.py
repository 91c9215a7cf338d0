"""The core is sans-io: importing it (and using every codec) never loads trio, hypercorn or libp2p."""

from __future__ import annotations

import subprocess
import sys

import devices.core

SCRIPT = """
import sys
import devices.core as c
m = c.Message(a=1, b=c.Message(x=b"y"))
p = c.httpsig_encode(m)
c.httpsig_decode(p.headers, p.body)
c.json_decode(c.json_encode(m))
c.flat_decode(c.flat_encode(m))
c.message_id(m)
bad = sorted(n for n in sys.modules if n.split(".")[0] in ("trio", "hypercorn", "libp2p"))
print(",".join(bad))
"""


def test_core_never_imports_io_stacks() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_every_public_name_is_exported_once() -> None:
    names = devices.core.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(devices.core, name)
