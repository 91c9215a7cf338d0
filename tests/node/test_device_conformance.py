"""The shared device conformance checks, run against every built-in device of the node."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devices._base import Device, DeviceInfo
from devices._errors import DeviceError
from devices.core import Message, RsaWallet
from node._config import load_config
from node._node import BUILTIN_DEVICES, Node

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def app(tmp_path: Path, wallet_jwk: dict[str, str], node_wallet: RsaWallet) -> Node:
    RsaWallet.from_jwk(dict(wallet_jwk)).save(tmp_path / "wallet.json")
    node = Node.open(load_config(None, {"data_dir": str(tmp_path)}), wallet=node_wallet)
    yield node
    node.close()


@pytest.mark.parametrize("name", sorted(BUILTIN_DEVICES))
def test_info_well_formed(name: str) -> None:
    device = BUILTIN_DEVICES[name]()
    assert isinstance(device, Device)
    assert device.id == name
    info = device.info()
    assert isinstance(info, DeviceInfo)
    assert all(isinstance(k, str) and k == k.lower() for k in info.keys)
    assert info.keys or info.catch_all


@pytest.mark.parametrize("name", sorted(BUILTIN_DEVICES))
async def test_exported_keys_deterministic_and_pure(name: str, app: Node) -> None:
    device = BUILTIN_DEVICES[name]()
    base = Message(device=name, a=b"1", m=Message(x=2))
    for key in sorted(device.info().keys):
        req = Message(path=key, key=b"a", item=b"a")
        outcomes = []
        for _ in range(2):
            try:
                outcomes.append(await device.resolve(key, base, req, app.resolver.context()))
            except DeviceError as exc:
                outcomes.append((type(exc), exc.status))
        assert outcomes[0] == outcomes[1], key
        assert base == Message(device=name, a=b"1", m=Message(x=2))  # inputs never change
        assert req == Message(path=key, key=b"a", item=b"a")


async def test_unknown_key_of_the_identity_device(app: Node) -> None:
    device = BUILTIN_DEVICES["message@1.0"]()
    with pytest.raises(DeviceError) as info:
        await device.resolve("nope", Message(), Message(path="nope"), app.resolver.context())
    assert info.value.status == 404
