"""Arweave 2.0 deep hash (SHA-384) over nested lists of byte strings (spec §1.4).

    blob(b) = SHA384( SHA384("blob" ‖ len(b) in ASCII decimal) ‖ SHA384(b) )
    list(L) = fold acc = SHA384("list" ‖ len(L)) with acc = SHA384(acc ‖ deep_hash(e))

Blobs are hashed in place (``bytes``, ``bytearray`` or ``memoryview``), so a 1 MiB data field
is never copied.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, TypeAlias

from .._errors import EncodeError

if TYPE_CHECKING:
    from collections.abc import Sequence

Blob: TypeAlias = "bytes | bytearray | memoryview"
DeepHashable: TypeAlias = "Blob | Sequence[DeepHashable]"

_sha384 = hashlib.sha384


def _blob(b: Blob) -> bytes:
    tag = _sha384(b"blob" + str(len(b)).encode("ascii")).digest()
    return _sha384(tag + _sha384(b).digest()).digest()


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
