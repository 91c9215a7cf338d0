"""Fixtures for the gateway tests: an LMDB environment, an index and a record factory."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import lmdb
import pytest

from devices.core import b64u_encode
from devices.gateway import ItemIndex, ItemRecord

if TYPE_CHECKING:
    from pathlib import Path

RecordFactory = Callable[..., ItemRecord]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[lmdb.Environment]:
    e = lmdb.open(str(tmp_path / "db"), max_dbs=16, map_size=1 << 28)
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
