"""The indexed view of one data item: everything GraphQL and the routes need except the data bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cbor2

from devices.core import b64u_encode

from ._errors import GatewayError

Tag = tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """Metadata of one verified ANS-104 data item, as the gateway index stores it.

    ``target`` and ``anchor`` are raw bytes (empty when absent); ``tags`` are raw (name, value) pairs in
    item order, duplicates kept. ``data_offset`` is where the data starts inside the raw item bytes, so
    ``/raw/{id}`` serves ``raw[data_offset:]``. ``bundled_in`` is the parent bundle id, ``""`` when unknown.
    ``height`` and ``timestamp`` are assigned by the index (insertion sequence, seconds); zero until then.
    """

    id: str
    signature: bytes
    signature_type: int
    owner: bytes
    target: bytes
    anchor: bytes
    tags: tuple[Tag, ...]
    data_size: int
    data_offset: int
    bundled_in: str = ""
    height: int = 0
    timestamp: int = 0
    owner_address: str = field(default="")

    def __post_init__(self) -> None:
        if not self.owner_address:
            object.__setattr__(self, "owner_address", b64u_encode(hashlib.sha256(self.owner).digest()))

    @property
    def content_type(self) -> str | None:
        """The value of the first ``Content-Type`` tag (case-insensitive name), if it is text."""
        for name, value in self.tags:
            if name.lower() == b"content-type":
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    return None
        return None

    @property
    def recipient(self) -> str:
        return b64u_encode(self.target) if self.target else ""

    def to_bytes(self) -> bytes:
        """Compact CBOR form stored in the index."""
        return cbor2.dumps(
            [
                1,
                self.id,
                self.signature,
                self.signature_type,
                self.owner,
                self.target,
                self.anchor,
                [[n, v] for n, v in self.tags],
                self.data_size,
                self.data_offset,
                self.bundled_in,
                self.height,
                self.timestamp,
                self.owner_address,
            ]
        )

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> ItemRecord:
        """Inverse of ``to_bytes``.

        Raises:
            GatewayError: the stored form is corrupt (the index database was damaged).
        """
        if raw is None:
            raise GatewayError("missing item record in the gateway index")
        try:
            v = cbor2.loads(raw)
            if not isinstance(v, list) or len(v) != 14 or v[0] != 1:
                raise GatewayError("corrupt item record in the gateway index")
            return cls(
                id=v[1],
                signature=v[2],
                signature_type=v[3],
                owner=v[4],
                target=v[5],
                anchor=v[6],
                tags=tuple((bytes(n), bytes(t)) for n, t in v[7]),
                data_size=v[8],
                data_offset=v[9],
                bundled_in=v[10],
                height=v[11],
                timestamp=v[12],
                owner_address=v[13],
            )
        except (cbor2.CBORDecodeError, TypeError, ValueError) as exc:
            raise GatewayError("corrupt item record in the gateway index") from exc
