"""A binary SHA-256 Merkle tree with domain-separated hashing and inclusion proofs.

Rules:

1. ``leaf = SHA-256(0x00 ‖ data)``, ``node = SHA-256(0x01 ‖ left ‖ right)``: a leaf can never be
   mistaken for an inner node (no second-preimage splicing).
2. Levels pair nodes left to right. **Odd-node rule:** when a level has an odd number of nodes, the
   last one is promoted to the next level unchanged (it is *not* duplicated, so no two different
   leaf lists share a root the way Bitcoin's duplicate-last rule allows).
3. The root of one leaf is that leaf's hash. An empty tree has no root.
4. A proof is the leaf index plus the sibling hashes bottom-up, skipping levels where the node was
   promoted. Together with the leaf count (which the signed header fixes) the verifier knows at
   each level whether a sibling exists and on which side, so a proof must use exactly all its
   siblings.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _next_level(level: list[bytes]) -> list[bytes]:
    # ``node_hash`` inlined: one SHA-256 per pair, no Python call per node (an odd last node has no pair).
    pairs = zip(level[::2], level[1::2], strict=False)
    nxt = [_sha256(NODE_PREFIX + left + right).digest() for left, right in pairs]
    if len(level) % 2:
        nxt.append(level[-1])
    return nxt


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The root over already-hashed ``leaves``.

    Raises:
        ValueError: no leaves.
    """
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    level = list(leaves)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def data_root(data: Sequence[bytes]) -> bytes:
    """``merkle_root([leaf_hash(d) for d in data])``: the root over the leaves' data, each hashed once.

    Raises:
        ValueError: no data.
    """
    return merkle_root([_sha256(LEAF_PREFIX + d).digest() for d in data])


def merkle_tree_proofs(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root and, for every leaf, its sibling path (bottom-up), in one pass.

    Raises:
        ValueError: no leaves.
    """
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    paths: list[list[bytes]] = [[] for _ in leaves]
    positions = list(range(len(leaves)))  # each leaf's index in the current level
    level = list(leaves)
    while len(level) > 1:
        for leaf, pos in enumerate(positions):
            sibling = pos ^ 1
            if sibling < len(level):
                paths[leaf].append(level[sibling])
            positions[leaf] = pos // 2
        level = _next_level(level)
    return level[0], paths


def merkle_proof(leaves: Sequence[bytes], index: int) -> tuple[bytes, list[bytes]]:
    """The root and the sibling path (bottom-up) of one leaf.

    Raises:
        ValueError: no leaves, or ``index`` out of range.
    """
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not among {len(leaves)}")
    path: list[bytes] = []
    level, pos = list(leaves), index
    while len(level) > 1:
        if pos ^ 1 < len(level):
            path.append(level[pos ^ 1])
        pos //= 2
        level = _next_level(level)
    return level[0], path


def root_from_proof(leaf: bytes, index: int, count: int, siblings: Sequence[bytes]) -> bytes | None:
    """Recompute the root from a leaf hash and its proof; None when the proof is structurally wrong."""
    if not 0 <= index < count or any(len(s) != 32 for s in siblings):
        return None
    node, pos, width, used = leaf, index, count, 0
    while width > 1:
        if pos ^ 1 < width:
            if used >= len(siblings):
                return None
            sibling = siblings[used]
            used += 1
            node = node_hash(sibling, node) if pos & 1 else node_hash(node, sibling)
        pos //= 2
        width = (width + 1) // 2
    return node if used == len(siblings) else None
