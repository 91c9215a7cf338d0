"""ANS-104 interop with @dha-team/arbundles (the library aoconnect signs with), under Node.

arbundles verifies items and a bundle hyperpeer signed; hyperpeer verifies items arbundles signed
with fresh keys in the same run. Needs ``node`` and ``tests/interop/node_modules``
(``scripts/setup.sh --test`` installs them from the lock file).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devices.core import Ed25519Key, RsaWallet
from devices.core.ans104 import (
    DataItem,
    EthereumKey,
    UnsignedItem,
    parse_bundle,
    serialize_bundle,
    sign_item,
)

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "arbundles_verify.mjs"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (HERE / "node_modules" / "@dha-team" / "arbundles").exists(),
        reason="tests/interop/node_modules missing: run scripts/setup.sh --test (npm ci)",
    ),
]

TAGS = [(b"Data-Protocol", b"ao"), (b"Action", b"Eval"), ("Ünïcødé".encode(), "✓ 世界".encode())]


def _node(*args: str) -> Any:
    done = subprocess.run(
        ["node", str(SCRIPT), *args], cwd=HERE, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def our_items() -> dict[str, DataItem]:
    ed = Ed25519Key.generate()
    anchor = b"interop-anchor-00000000000000042"
    unsigned = UnsignedItem(b"signed by hyperpeer", TAGS, bytes([7]) * 32, anchor)
    return {
        "type1": sign_item(unsigned, RsaWallet.generate(4096)),
        "type2": sign_item(unsigned, ed),
        "type3": sign_item(unsigned, EthereumKey.generate()),
        "type4": sign_item(unsigned, ed, signature_type=4),
        "type2-no-tags": sign_item(UnsignedItem(b""), ed),
    }


def test_arbundles_verifies_items_hyperpeer_signed(tmp_path: Path, our_items: dict[str, DataItem]) -> None:
    files = []
    for name, item in our_items.items():
        path = tmp_path / f"{name}.bin"
        path.write_bytes(item.serialize())
        files.append(str(path))
    tampered = bytearray(our_items["type1"].serialize())
    tampered[-1] ^= 1
    (tmp_path / "tampered.bin").write_bytes(bytes(tampered))
    files.append(str(tmp_path / "tampered.bin"))

    results = _node("verify", *files)
    by_file = {Path(r["file"]).stem: r for r in results}
    for name, item in our_items.items():
        got = by_file[name]
        assert got.get("error") is None, got
        assert got["verifies"] is True, got
        assert got["id"] == item.id
        assert got["signatureType"] == item.signature_type
    assert by_file["tampered"]["verifies"] is False  # the check can fail


def test_arbundles_verifies_a_bundle_hyperpeer_wrote(tmp_path: Path, our_items: dict[str, DataItem]) -> None:
    members = [our_items[k] for k in ("type2", "type3", "type1", "type4")]
    path = tmp_path / "bundle.bin"
    path.write_bytes(serialize_bundle(members))
    (result,) = _node("bundle", str(path))
    assert result.get("error") is None, result
    assert result["verifies"] is True
    assert result["ids"] == [m.id for m in members]


def test_hyperpeer_verifies_items_arbundles_signed(tmp_path: Path) -> None:
    signed = _node("sign", str(tmp_path))
    assert sorted(s["signatureType"] for s in signed) == [1, 2, 3]
    for entry in signed:
        raw = Path(entry["file"]).read_bytes()
        item = DataItem.parse(raw)
        assert item.id == entry["id"]
        assert item.signature_type == entry["signatureType"]
        assert item.serialize() == raw
        assert item.tags == tuple(TAGS)
        assert item.anchor == b"interop-anchor-00000000000000042"
        assert item.target == bytes([7]) * 32
        item.verify_or_raise()
        assert item.strict_issues() == []
        forged = DataItem.parse(raw[:-1] + bytes([raw[-1] ^ 1]))
        assert not forged.verify()
    bundle = parse_bundle(serialize_bundle([Path(s["file"]).read_bytes() for s in signed]))
    assert bundle.verify()
