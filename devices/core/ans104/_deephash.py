"""Arweave 2.0 deep hash (SHA-384) over nested lists of byte strings (spec §1.4).

    blob(b) = SHA384( SHA384("blob" ‖ len(b) in ASCII decimal) ‖ SHA384(b) )
    list(L) = fold acc = SHA384("list" ‖ len(L)) with acc = SHA384(acc ‖ deep_hash(e))

Blobs are hashed in place (``bytes``, ``bytearray`` or ``memoryview``), so a 1 MiB data field
is never copied. ``list_prefix`` caches the fold over constant leading elements (the ANS-104
``"dataitem", "1", type`` head), which cuts the hashing of a small item by about a third.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING, TypeAlias

from .._errors import EncodeError

if TYPE_CHECKING:
    from collections.abc import Sequence

Blob: TypeAlias = "bytes | bytearray | memoryview"
DeepHashable: TypeAlias = "Blob | Sequence[DeepHashable]"

_sha384 = hashlib.sha384


@lru_cache(maxsize=4096)
def _blob_tag(length: int) -> bytes:
    return _sha384(b"blob" + str(length).encode("ascii")).digest()


def _blob(b: Blob) -> bytes:
    return _sha384(_blob_tag(len(b)) + _sha384(b).digest()).digest()


@lru_cache(maxsize=64)
def list_prefix(length: int, *head: bytes) -> bytes:
    """The list accumulator of a ``length``-element list after folding in the blobs ``head``."""
    acc = _sha384(b"list" + str(length).encode("ascii")).digest()
    for element in head:
        acc = _sha384(acc + _blob(element)).digest()
    return acc


def fold_blobs(acc: bytes, blobs: Sequence[Blob]) -> bytes:
    """Continue a list accumulator with further blob elements."""
    for b in blobs:
        acc = _sha384(acc + _blob(b)).digest()
    return acc


def deep_hash(value: DeepHashable) -> bytes:
    """The 48-byte deep hash of a byte string or a (nested) list of them.

    Raises:
        EncodeError: an element is neither bytes-like nor a list/tuple.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _blob(value)
    if isinstance(value, (list, tuple)):
        acc = _sha384(b"list" + str(len(value)).encode("ascii")).digest()
        for element in value:
            acc = _sha384(acc + deep_hash(element)).digest()
        return acc
    raise EncodeError(f"cannot deep-hash a {type(value).__name__}")


def deep_hash_chunks(chunks: Sequence[Blob], acc: bytes) -> bytes:
    """Fold ``chunks`` onto an accumulator, as the list case does after its header."""
    for chunk in chunks:
        acc = _sha384(acc + deep_hash(chunk)).digest()
    return acc
