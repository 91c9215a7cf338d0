"""Fixtures for the attest tests: simulated chains and signers (session-scoped: key generation is slow)."""

from __future__ import annotations

import pytest

from attest import Product, SimulatedChain
from devices.core import Ed25519Key, RsaWallet


@pytest.fixture(scope="session")
def sim_chain() -> SimulatedChain:
    return SimulatedChain.generate(chip_suffix=bytes(range(32)))


@pytest.fixture(scope="session")
def sim_turin() -> SimulatedChain:
    return SimulatedChain.generate(product=Product.TURIN)


@pytest.fixture(scope="session")
def rsa_wallet() -> RsaWallet:
    return RsaWallet.generate(2048)


@pytest.fixture(scope="session")
def ed_key() -> Ed25519Key:
    return Ed25519Key.from_seed(bytes(range(32)))
