from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import devices.scheduler as pkg
from devices import process, push, scheduler_device, stack, test_exec
from devices._base import Device, DeviceInfo
from devices._errors import KeyNotFound
from devices.core import Message
from tests.scheduler._harness import make_node, new_scheduler

if TYPE_CHECKING:
    import lmdb

ALL = [process.DEVICE, push.DEVICE, scheduler_device.DEVICE, stack.DEVICE, test_exec.DEVICE]


def test_every_public_name_is_exported_once() -> None:
    assert len(pkg.__all__) == len(set(pkg.__all__))
    for name in pkg.__all__:
        assert getattr(pkg, name) is not None


@pytest.mark.parametrize("device", ALL, ids=lambda d: d.id)
def test_device_info_is_well_formed(device: Device) -> None:
    assert isinstance(device, Device)
    info = device.info()
    assert isinstance(info, DeviceInfo)
    assert info.keys or info.catch_all
    assert all(k == k.lower() for k in info.keys)
    assert device.id.endswith("@1.0")


@pytest.mark.parametrize("device", [d for d in ALL if not d.info().catch_all], ids=lambda d: d.id)
async def test_unknown_key_is_key_not_found(device: Device, env: lmdb.Environment) -> None:
    node = make_node(env, new_scheduler(env))
    base = Message({"type": "Process", "device": device.id})
    with pytest.raises(KeyNotFound):
        await device.resolve("no-such-key", base, Message(path="no-such-key"), node.ctx())


def test_device_modules_document_their_keys() -> None:
    for device in ALL:
        module = __import__(type(device).__module__, fromlist=["_"])
        doc = module.__doc__ or ""
        for key in device.info().keys:
            assert f"``{key}``" in doc, f"{device.id}: key {key} undocumented"
