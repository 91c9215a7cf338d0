"""Fixtures for the gateway tests: an LMDB environment, an index and a record factory."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import lmdb
import pytest
import trio

from devices.core import b64u_encode
from devices.gateway import ItemIndex, ItemRecord

if TYPE_CHECKING:
    from pathlib import Path

RecordFactory = Callable[..., ItemRecord]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[lmdb.Environment]:
    e = lmdb.open(str(tmp_path / "db"), max_dbs=16, map_size=1 << 28, sync=False, metasync=False)
    yield e
    e.close()


@pytest.fixture
def index(env: lmdb.Environment) -> ItemIndex:
    return ItemIndex(env, clock=lambda: 1_700_000_000.0)


def owner_bytes(n: int) -> bytes:
    return hashlib.sha512(b"owner%d" % n).digest() * 8  # 512 bytes, like an RSA modulus


def address(n: int) -> str:
    return b64u_encode(hashlib.sha256(owner_bytes(n)).digest())


def _b(x: str | bytes) -> bytes:
    return x.encode() if isinstance(x, str) else x


@pytest.fixture
def make_record() -> RecordFactory:
    counter = iter(range(1_000_000))

    def make(
        *,
        tags: list[tuple[str, str]] | tuple[tuple[bytes, bytes], ...] = (),
        owner: int = 0,
        target: bytes = b"",
        anchor: bytes = b"",
        bundled_in: str = "",
        data_size: int = 4,
    ) -> ItemRecord:
        sig = hashlib.sha512(b"sig%d" % next(counter)).digest() * 8
        raw_tags = tuple(
            (n.encode() if isinstance(n, str) else n, v.encode() if isinstance(v, str) else v)
            for n, v in tags
        )
        return ItemRecord(
            id=b64u_encode(hashlib.sha256(sig).digest()),
            signature=sig,
            signature_type=1,
            owner=owner_bytes(owner),
            target=target,
            anchor=anchor,
            tags=raw_tags,
            data_size=data_size,
            data_offset=100,
            bundled_in=bundled_in,
        )

    return make


@pytest.fixture
def addr() -> Callable[[int], str]:
    return address


# --- A stand-in item format for route tests, until the ANS-104 parser is merged ------------------

TOY_MAGIC = b"TOY1"


def toy_item(
    *, tags=(), data: bytes = b"", owner: int = 0, target: bytes = b"", valid: bool = True, nonce: int = 0
) -> bytes:
    """``TOY1 ‖ u32 len ‖ cbor(meta) ‖ data``; ``valid=False`` makes parse_toy reject the signature."""
    import struct

    import cbor2

    sig = hashlib.sha512(b"toy%d" % nonce + data + repr(tags).encode()).digest() * 8
    meta = cbor2.dumps([sig, owner_bytes(owner), target, [[_b(n), _b(v)] for n, v in tags], valid])
    return TOY_MAGIC + struct.pack(">I", len(meta)) + meta + data


def parse_toy(raw: bytes) -> ItemRecord:
    import struct

    import cbor2

    from devices.core import DecodeError, SignatureInvalid

    if raw[:4] != TOY_MAGIC or len(raw) < 8:
        raise DecodeError("not a toy item", offset=0)
    (n,) = struct.unpack(">I", raw[4:8])
    sig, owner, target, tags, valid = cbor2.loads(raw[8 : 8 + n])
    if not valid:
        raise SignatureInvalid("toy signature does not verify")
    return ItemRecord(
        id=b64u_encode(hashlib.sha256(sig).digest()),
        signature=sig,
        signature_type=1,
        owner=owner,
        target=target,
        anchor=b"",
        tags=tuple((bytes(a), bytes(b)) for a, b in tags),
        data_size=len(raw) - 8 - n,
        data_offset=8 + n,
    )


@pytest.fixture
def toy():
    return toy_item


@pytest.fixture
def toy_parser():
    return parse_toy


@asynccontextmanager
async def _running(app):
    """Serve ``app`` with hypercorn on 127.0.0.1, port 0; yields the base URL."""
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, config)
        yield binds[0]
        nursery.cancel_scope.cancel()


@pytest.fixture
def running():
    return _running
