"""Fixtures of the core conformance tests."""

from __future__ import annotations

import pytest

from devices.core import RsaWallet
from tests.conftest import vector_path


@pytest.fixture(scope="session")
def wallet1() -> RsaWallet:
    return RsaWallet.load(vector_path("hyperbeam-test-data", "key-1.json"))
