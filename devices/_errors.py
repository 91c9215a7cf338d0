"""Errors raised by devices.

    DeviceError              root; ``status`` is the HTTP status the edge answers with
    ├── BadRequest           400: the request message is malformed or lacks a key
    ├── Unauthorized         401: a signature is required and missing
    ├── Forbidden            403: signed, but not by someone allowed to do this
    ├── NotFound             404: the named message, process or slot does not exist
    │   ├── KeyNotFound      404: the device has no such key
    │   └── DeviceNotFound   404: no device is registered under that name
    ├── Conflict             409: the request contradicts accepted state
    ├── PayloadTooLarge      413: over a configured limit
    └── Unavailable          503: a dependency (peer, gateway) cannot answer now
"""

from __future__ import annotations


class DeviceError(Exception):
    status: int = 500

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        self.reason = reason
        if status is not None:
            self.status = status
        super().__init__(reason)


class BadRequest(DeviceError):
    status = 400


class Unauthorized(DeviceError):
    status = 401


class Forbidden(DeviceError):
    status = 403


class NotFound(DeviceError):
    status = 404


class KeyNotFound(NotFound):
    pass


class DeviceNotFound(NotFound):
    pass


class Conflict(DeviceError):
    status = 409


class PayloadTooLarge(DeviceError):
    status = 413


class Unavailable(DeviceError):
    status = 503
