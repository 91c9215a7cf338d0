"""Package boundaries: the sans-io codec stays light, libp2p stays inside p2p/, the API is exported once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import p2p
from p2p import P2P, Libp2pNode, MemoryNetwork, MemoryNode

ROOT = Path(__file__).resolve().parents[2]
# The libp2p backend: the adapter and its per-instance fixes of library costs.
BACKEND = {Path("p2p/_libp2p_host.py"), Path("p2p/_tuning.py")}
# Files outside p2p/ that may import libp2p directly: tests that poke libp2p on purpose (a plaintext
# dialer, counting the library's own calls) and the benchmark that measures raw libp2p against our adapter.
ALLOWED_OUTSIDE = {
    Path("tests/p2p/test_libp2p.py"),
    Path("tests/p2p/test_tuning.py"),
    Path("tests/p2p/test_boundary.py"),
    Path("bench/gossip_raw.py"),
}
IMPORT_LIBP2P = re.compile(r"^\s*(import\s+libp2p\b|from\s+libp2p\b)", re.MULTILINE)


def test_wire_codec_does_not_load_trio_or_libp2p() -> None:
    code = (
        "import sys, p2p._wire as w;"
        "w.decode(w.encode(w.Envelope(w.Kind.ATTESTATION, b'x')));"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('trio', 'libp2p', 'multiaddr'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_importing_p2p_does_not_load_libp2p() -> None:
    code = "import sys, p2p; sys.exit(1 if 'libp2p' in sys.modules else 0)"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_only_the_backend_imports_libp2p() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if (
            rel.parts[0].startswith(".")
            or rel.parts[0] in {"build", "node_modules"}
            or "venv" in rel.parts[0]
        ):
            continue
        if rel in ALLOWED_OUTSIDE or rel in BACKEND:
            continue
        if IMPORT_LIBP2P.search(path.read_text(encoding="utf-8", errors="replace")):
            offenders.append(str(rel))
    assert offenders == []


def test_the_checker_would_notice(tmp_path: Path) -> None:
    assert IMPORT_LIBP2P.search("from __future__ import annotations\nfrom libp2p.peer.id import ID\n")
    assert IMPORT_LIBP2P.search("    import libp2p\n")
    assert not IMPORT_LIBP2P.search("# the libp2p backend\nimport libp2pish_other\n")


def test_public_names_are_exported_exactly_once() -> None:
    assert len(p2p.__all__) == len(set(p2p.__all__))
    for name in p2p.__all__:
        assert getattr(p2p, name) is not None


def test_both_backends_satisfy_the_interface() -> None:
    memory: P2P = MemoryNetwork().node("x")
    real: P2P = Libp2pNode(seed=bytes(32))
    for node in (memory, real):
        for member in (
            "peer_id",
            "listen_addrs",
            "publish",
            "subscribe",
            "set_validator",
            "request",
            "set_request_handler",
            "connect",
            "peers",
            "disconnect",
            "wait_peer_state",
            "score",
            "statistics",
        ):
            assert hasattr(node, member), member
    assert isinstance(memory, MemoryNode)
