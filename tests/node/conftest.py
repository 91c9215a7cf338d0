"""Fixtures for node tests: a wallet generated once per session and a running in-process node."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trio

from devices.core import RsaWallet
from node._config import NodeConfig, load_config
from node._server import Running, run_node

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
from functools import partial

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def node_wallet() -> RsaWallet:
    return RsaWallet.generate(2048)


@pytest.fixture(scope="session")
def wallet_jwk(node_wallet: RsaWallet) -> dict[str, str]:
    return node_wallet.to_jwk()


def make_config(tmp_path: Path, wallet_jwk: dict[str, str], **overrides: Any) -> NodeConfig:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    wallet_file = data_dir / "wallet.json"
    if not wallet_file.exists():
        RsaWallet.from_jwk(dict(wallet_jwk)).save(wallet_file)
    return load_config(ROOT / "configs" / "test.toml", {"data_dir": str(data_dir), **overrides})


@pytest.fixture
async def node(tmp_path: Path, wallet_jwk: dict[str, str], node_wallet: RsaWallet) -> AsyncIterator[Running]:
    config = make_config(tmp_path, wallet_jwk)
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(partial(run_node, config, wallet=node_wallet))
        yield running
        nursery.cancel_scope.cancel()
