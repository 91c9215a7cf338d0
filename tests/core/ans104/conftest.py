"""Signing keys for the ANS-104 tests."""

from __future__ import annotations

import pytest

from devices.core import Ed25519Key, RsaWallet
from devices.core.ans104 import EthereumKey
from tests.conftest import VECTORS


@pytest.fixture(scope="session")
def rsa_wallet() -> RsaWallet:
    """HyperBEAM's key-1.json when the vectors are present, else one generated 4096-bit key."""
    path = VECTORS / "hyperbeam-test-data" / "key-1.json"
    if path.exists():
        return RsaWallet.load(path)
    return RsaWallet.generate(4096)


@pytest.fixture(scope="session")
def ed_key() -> Ed25519Key:
    return Ed25519Key.from_seed(bytes(range(32)))


@pytest.fixture(scope="session")
def eth_key() -> EthereumKey:
    return EthereumKey.from_secret(
        bytes.fromhex("8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f")
    )
