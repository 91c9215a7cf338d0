from __future__ import annotations

import json

import pytest

from devices.core import (
    DecodeError,
    Ed25519Key,
    KeyMaterialError,
    RsaWallet,
    address_of,
    b64u_decode,
    b64u_encode,
    ed25519_verify,
    rsa_pss_verify,
)
from tests.conftest import vector_path


@pytest.fixture(scope="module")
def wallet() -> RsaWallet:
    return RsaWallet.generate(2048)


def test_b64u_roundtrip_and_rejects_junk() -> None:
    for data in (b"", b"\x00", b"\xff" * 33, bytes(range(256))):
        assert b64u_decode(b64u_encode(data)) == data
    with pytest.raises(DecodeError):
        b64u_decode("ab+c")
    with pytest.raises(DecodeError):
        b64u_decode("a")


def test_rsa_pss_verify_detects_salt(wallet: RsaWallet) -> None:
    msg = b"hello"
    for salt in (32, 64, -1):
        sig = wallet.sign_pss(msg, "sha256", salt)
        assert rsa_pss_verify(wallet.modulus, msg, sig, "sha256")
        assert not rsa_pss_verify(wallet.modulus, msg + b"!", sig, "sha256")
    sig512 = wallet.sign_pss(msg, "sha512", 64)
    assert rsa_pss_verify(wallet.modulus, msg, sig512, "sha512")
    assert not rsa_pss_verify(wallet.modulus, msg, sig512, "sha256")


def test_jwk_roundtrip_and_save(tmp_path, wallet: RsaWallet) -> None:
    path = tmp_path / "w.json"
    wallet.save(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = RsaWallet.load(path)
    assert again.address == wallet.address == address_of(wallet.modulus)
    assert wallet.to_jwk()["d"] not in repr(again)


def test_bad_jwk_is_a_typed_error(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kty": "RSA", "n": "AQAB"}))
    with pytest.raises(KeyMaterialError):
        RsaWallet.load(bad)
    with pytest.raises(KeyMaterialError):
        RsaWallet.load(tmp_path / "missing.json")


def test_reference_wallet_address() -> None:
    key1 = RsaWallet.load(vector_path("hyperbeam-test-data", "key-1.json"))
    assert key1.address == "vcaPe4JWnrSOCktDHBgXge-zWUb6JRkqbom5w9t7i-4"


def test_ed25519() -> None:
    key = Ed25519Key.from_seed(bytes(32))
    sig = key.sign(b"m")
    assert ed25519_verify(key.public_bytes, b"m", sig)
    assert not ed25519_verify(key.public_bytes, b"n", sig)
    assert not ed25519_verify(b"short", b"m", sig)
