"""ANS-104 data items and binary bundles (``ans104@1.0`` at the byte level), pure and sans-io.

Theory of operation:

1. ``DataItem.parse(raw)`` reads one item strictly (spec §1.7) and keeps the raw Avro tag bytes,
   so ``item.serialize() == raw`` and the signature is checked over what was received.
2. ``item.verify()`` / ``verify_or_raise()`` recompute the deep hash of
   ``["dataitem", "1", type, owner, target, anchor, tag bytes, data]`` and check it per type:
   1 RSA-PSS (any salt), 2 Ed25519, 3 Ethereum EIP-191, 4 Solana (Ed25519 over hex).
   Types 5-7 parse but never verify.
3. ``sign_item(UnsignedItem(...), signer)`` produces strictly valid items (RSA salt 32).
4. ``parse_bundle(raw)`` reads a binary bundle header; members are parsed and checked on demand,
   and a bad member is reported by its index. ``serialize_bundle`` writes little-endian.
5. Errors: ``DecodeError`` (with byte ``offset``), ``LimitExceeded``, ``SignatureInvalid``,
   ``EncodeError`` — all from ``devices.core``'s ``CoreError`` tree.
"""

from __future__ import annotations

from ._avro import MAX_NAME_BYTES as MAX_NAME_BYTES
from ._avro import MAX_TAG_BYTES as MAX_TAG_BYTES
from ._avro import MAX_TAGS as MAX_TAGS
from ._avro import MAX_VALUE_BYTES as MAX_VALUE_BYTES
from ._avro import DecodedTags as DecodedTags
from ._avro import Tag as Tag
from ._avro import decode_tags as decode_tags
from ._avro import encode_tags as encode_tags
from ._avro import strict_tag_issues as strict_tag_issues
from ._bundle import DEFAULT_MAX_BUNDLE_ITEMS as DEFAULT_MAX_BUNDLE_ITEMS
from ._bundle import DEFAULT_MAX_BUNDLE_SIZE as DEFAULT_MAX_BUNDLE_SIZE
from ._bundle import Bundle as Bundle
from ._bundle import BundleEntry as BundleEntry
from ._bundle import MemberCheck as MemberCheck
from ._bundle import parse_bundle as parse_bundle
from ._bundle import serialize_bundle as serialize_bundle
from ._deephash import deep_hash as deep_hash
from ._deephash import deep_hash_chunks as deep_hash_chunks
from ._eth import EthereumKey as EthereumKey
from ._eth import eip191_digest as eip191_digest
from ._eth import eth_verify as eth_verify
from ._eth import ethereum_address as ethereum_address
from ._eth import keccak256 as keccak256
from ._item import DEFAULT_MAX_ITEM_SIZE as DEFAULT_MAX_ITEM_SIZE
from ._item import DataItem as DataItem
from ._item import signature_data as signature_data
from ._sign import Signer as Signer
from ._sign import UnsignedItem as UnsignedItem
from ._sign import sign_item as sign_item
from ._sign import signer_type_and_owner as signer_type_and_owner
from ._sigtypes import SIGNATURE_TYPES as SIGNATURE_TYPES
from ._sigtypes import SignatureType as SignatureType
from ._sigtypes import signature_problem as signature_problem

__all__ = [
    "DEFAULT_MAX_BUNDLE_ITEMS",
    "DEFAULT_MAX_BUNDLE_SIZE",
    "DEFAULT_MAX_ITEM_SIZE",
    "MAX_NAME_BYTES",
    "MAX_TAGS",
    "MAX_TAG_BYTES",
    "MAX_VALUE_BYTES",
    "SIGNATURE_TYPES",
    "Bundle",
    "BundleEntry",
    "DataItem",
    "DecodedTags",
    "EthereumKey",
    "MemberCheck",
    "SignatureType",
    "Signer",
    "Tag",
    "UnsignedItem",
    "decode_tags",
    "deep_hash",
    "deep_hash_chunks",
    "eip191_digest",
    "encode_tags",
    "eth_verify",
    "ethereum_address",
    "keccak256",
    "parse_bundle",
    "serialize_bundle",
    "sign_item",
    "signature_data",
    "signature_problem",
    "signer_type_and_owner",
    "strict_tag_issues",
]
