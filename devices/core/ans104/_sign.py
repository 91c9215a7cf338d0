"""Signing data items with an Arweave RSA wallet, an Ed25519 key or an Ethereum key.

| signer        | type | owner                      | signature                                  |
|---------------|------|----------------------------|--------------------------------------------|
| ``RsaWallet``   | 1    | 512-byte modulus           | RSA-PSS SHA-256, salt 32, over DH           |
| ``Ed25519Key``  | 2    | 32-byte public key         | Ed25519 over DH                             |
| ``Ed25519Key``  | 4    | (with ``signature_type=4``) | Ed25519 over hex(DH) (Solana, arbundles)    |
| ``EthereumKey`` | 3    | 65-byte uncompressed key   | EIP-191 secp256k1 ``r ‖ s ‖ v``             |

Produced items are strictly valid: tags meet the ANS-104 limits (``EncodeError`` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from .._errors import EncodeError
from .._keys import Ed25519Key, RsaWallet
from ._avro import Tag, encode_tags
from ._eth import EthereumKey
from ._item import DataItem, signature_data

if TYPE_CHECKING:
    from collections.abc import Sequence

Signer: TypeAlias = RsaWallet | Ed25519Key | EthereumKey


@dataclass(frozen=True)
class UnsignedItem:
    """The fields a signer commits to. ``target`` and ``anchor`` are 32 raw bytes or empty."""

    data: bytes = b""
    tags: Sequence[Tag] = ()
    target: bytes = b""
    anchor: bytes = b""


def signer_type_and_owner(signer: Signer, signature_type: int | None = None) -> tuple[int, bytes]:
    """The signature type and owner bytes ``signer`` produces.

    Raises:
        EncodeError: the signer cannot produce ``signature_type``, or the RSA key is not 4096-bit.
    """
    if isinstance(signer, RsaWallet):
        code, owner = 1, signer.modulus
        if len(owner) != 512:
            raise EncodeError("ANS-104 type 1 needs a 4096-bit RSA wallet")
    elif isinstance(signer, Ed25519Key):
        code, owner = signature_type or 2, signer.public_bytes
        if code not in (2, 4):
            raise EncodeError(f"an Ed25519 key signs type 2 or 4, not {code}")
    elif isinstance(signer, EthereumKey):
        code, owner = 3, signer.public_bytes
    else:
        raise EncodeError(f"not a data-item signer: {type(signer).__name__}")
    if signature_type is not None and signature_type != code:
        raise EncodeError(f"{type(signer).__name__} cannot sign type {signature_type}")
    return code, owner


def sign_item(unsigned: UnsignedItem, signer: Signer, *, signature_type: int | None = None) -> DataItem:
    """Sign ``unsigned`` with ``signer`` (type 4 only when asked for an Ed25519 key).

    Raises:
        EncodeError: tags break the ANS-104 limits, target/anchor are not 32 bytes, or the signer
            does not fit the type.
    """
    code, owner = signer_type_and_owner(signer, signature_type)
    tags = tuple(unsigned.tags)
    tag_bytes = encode_tags(tags)
    if len(unsigned.target) not in (0, 32) or len(unsigned.anchor) not in (0, 32):
        raise EncodeError("target and anchor are 32 bytes when present")
    dh = signature_data(code, owner, unsigned.target, unsigned.anchor, tag_bytes, unsigned.data)
    if isinstance(signer, RsaWallet):
        signature = signer.sign_pss(dh, "sha256", 32)
    elif isinstance(signer, EthereumKey):
        signature = signer.sign(dh)
    else:
        signature = signer.sign(dh.hex().encode("ascii") if code == 4 else dh)
    return DataItem(code, signature, owner, unsigned.target, unsigned.anchor, tags, unsigned.data, tag_bytes)
