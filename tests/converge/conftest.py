"""Fixtures for the convergence tests (helpers live in ``_cluster``)."""

from __future__ import annotations

import pytest

from devices.core import RsaWallet


@pytest.fixture(scope="session")
def wallets() -> list[RsaWallet]:
    return [RsaWallet.generate(2048) for _ in range(5)]
