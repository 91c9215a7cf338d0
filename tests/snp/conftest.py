"""Fixtures for the SNP device tests: a wallet and a simulated chain, made once per session."""

from __future__ import annotations

import pytest

from attest import SimulatedChain
from devices.core import RsaWallet


@pytest.fixture(scope="session")
def wallet_jwk() -> dict[str, str]:
    return RsaWallet.generate(2048).to_jwk()


@pytest.fixture(scope="session")
def sim_chain() -> SimulatedChain:
    return SimulatedChain.generate(chip_suffix=bytes(range(32)))


@pytest.fixture(scope="session")
def other_jwk() -> dict[str, str]:
    """A second node's wallet."""
    return RsaWallet.generate(2048).to_jwk()
