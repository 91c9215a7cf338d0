"""The explicit table from versioned device names to device objects. No auto-discovery."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices._errors import DeviceNotFound

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from devices._base import Device


class Registry:
    """Devices loaded at boot, looked up by versioned name (``message@1.0``)."""

    def __init__(self, devices: Iterable[Device] = ()) -> None:
        self._devices: dict[str, Device] = {}
        for device in devices:
            self.add(device)

    def add(self, device: Device) -> None:
        if device.id in self._devices:
            raise ValueError(f"device {device.id} registered twice")
        self._devices[device.id] = device

    def get(self, name: str) -> Device:
        """The device named ``name``.

        Raises:
            DeviceNotFound: no device of that name is loaded.
        """
        try:
            return self._devices[name]
        except KeyError:
            raise DeviceNotFound(f"device not found: {name}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._devices

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._devices))
