"""``hyperpeer verify``: one JSON line per file, exit 1 when any file is invalid, 2 on usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from attest import Statement, sign_attestation
from devices.core import Message, RsaWallet, commit, httpsig_encode, json_encode
from devices.core.ans104 import UnsignedItem, serialize_bundle, sign_item
from node._verify import verify_path
from tests.conftest import ROOT, vector_path

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def wallet() -> RsaWallet:
    return RsaWallet.generate(4096)


def _item(wallet: RsaWallet, data: bytes = b"hello") -> bytes:
    return sign_item(UnsignedItem(tags=((b"Content-Type", b"text/plain"),), data=data), wallet).serialize()


def test_ans104_item_valid_and_tampered(tmp_path: Path, wallet: RsaWallet) -> None:
    raw = _item(wallet)
    good = tmp_path / "good.bin"
    good.write_bytes(raw)
    out = verify_path(good)
    assert out["kind"] == "ans104-item"
    assert out["valid"] is True
    assert out["committers"] == [wallet.address]
    bad = tmp_path / "bad.bin"
    bad.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    out = verify_path(bad)
    assert out["valid"] is False
    assert "signature" in out["error"]


def test_bundle(tmp_path: Path, wallet: RsaWallet) -> None:
    path = tmp_path / "bundle.bin"
    path.write_bytes(serialize_bundle([_item(wallet, b"a"), _item(wallet, b"b")]))
    out = verify_path(path)
    assert out["kind"] == "ans104-bundle"
    assert out["valid"] is True
    assert len(out["members"]) == 2


def test_httpsig_dump_and_json_message(tmp_path: Path, wallet: RsaWallet) -> None:
    signed = commit(Message({"hello": "world", "n": 7}), wallet)
    parts = httpsig_encode(signed)
    head = "".join(f"{k}: {v}\r\n" for k, v in parts.headers)
    dump = tmp_path / "req.http"
    dump.write_bytes(b"POST / HTTP/1.1\r\n" + head.encode() + b"\r\n" + parts.body)
    out = verify_path(dump)
    assert out["kind"] == "httpsig", out
    assert out["valid"] is True, out
    assert wallet.address in out["committers"]
    tampered = tmp_path / "tampered.http"
    tampered.write_bytes(dump.read_bytes().replace(b"world", b"WORLD"))
    assert verify_path(tampered)["valid"] is False
    js = tmp_path / "msg.json"
    js.write_bytes(json_encode(signed))
    out = verify_path(js)
    assert out["kind"] == "json", out
    assert out["valid"] is True, out


def test_attestation_goes_to_attest(tmp_path: Path, wallet: RsaWallet) -> None:
    stmt = Statement(process="p" * 43, slot=3, result="r" * 43, hashpath="a/b",
                     device_stack=("test-exec@1.0",), attester=wallet.address)
    path = tmp_path / "att.cbor"
    path.write_bytes(sign_attestation(stmt, wallet))
    out = verify_path(path)
    assert out["kind"] == "attestation"
    assert out["valid"] is True
    assert out["committers"] == [wallet.address]


def test_vectors_items(tmp_path: Path) -> None:
    folder = vector_path("ans104-arbundles")
    index = json.loads((folder / "index.json").read_text())
    entries = index if isinstance(index, list) else index.get("items", index.get("files", []))
    assert entries
    for entry in entries[:6]:
        name = entry.get("file") or entry.get("name")
        out = verify_path(folder / name)
        assert out["kind"].startswith("ans104") or not out["valid"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def test_cli_exit_codes(tmp_path: Path, wallet: RsaWallet) -> None:
    good = tmp_path / "good.bin"
    good.write_bytes(_item(wallet))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage")
    ok = _cli("verify", str(good))
    assert ok.returncode == 0, ok.stderr
    line = json.loads(ok.stdout.strip())
    assert set(line) >= {"file", "kind", "valid", "id", "committers", "error"}
    mixed = _cli("verify", str(good), str(junk))
    assert mixed.returncode == 1
    assert len(mixed.stdout.strip().splitlines()) == 2
    assert _cli("verify").returncode == 2
