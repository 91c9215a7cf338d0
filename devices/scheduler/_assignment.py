"""Assignments (``ao.N.1``): the record the scheduler writes for every accepted message, and
the capabilities it needs from the message layer (ids, signing, verification).

An assignment message has exactly the keys of HyperBEAM's (spec §1.2): ``path`` (the scheduled
message's own path, else ``compute``), ``data-protocol: ao``, ``variant: ao.N.1``, ``process``,
``epoch`` (the *string* ``"0"``), ``slot`` (int), ``block-height`` (int), ``block-hash`` (text, as
the gateway gave it), ``block-timestamp`` (int), ``timestamp`` (int, milliseconds), ``hash-chain``
(base64url of 32 bytes) and ``body`` (the scheduled message). It is signed by the node wallet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, final

from devices.core import Message, RsaWallet, b64u_decode, b64u_encode

from ._chain import next_hash_chain
from ._codec import StorageCorrupt, as_message

if TYPE_CHECKING:
    from collections.abc import Callable

ZERO_ID = "A" * 43


def _identity(msg: Message) -> Message:
    return msg


def _no_signers(_msg: Message) -> list[str]:
    return []


@final
@dataclass(frozen=True)
class MessageOps:
    """What the scheduler needs from the message layer, injected so it can be tested alone.

    ``message_id(msg)`` — the 43-character id over all commitments; ``sign(msg)`` — commit with the
    node wallet (httpsig); ``verify(msg)`` — every commitment verifies; ``signers(msg)`` — signer
    addresses; ``committed_only(msg)`` — the message reduced to its committed keys.
    """

    message_id: Callable[[Message], str]
    sign: Callable[[Message], Message]
    verify: Callable[[Message], bool]
    signers: Callable[[Message], list[str]] = _no_signers
    committed_only: Callable[[Message], Message] = _identity

    @classmethod
    def for_wallet(cls, wallet: RsaWallet) -> MessageOps:
        """The real message layer: ids over all commitments, httpsig RSA signing with ``wallet``."""
        from devices import core

        def message_id(msg: Message) -> str:
            return core.message_id(msg, "all")

        def sign(msg: Message) -> Message:
            return core.commit(msg, wallet)

        def verify(msg: Message) -> bool:
            return core.verify(msg).valid

        return cls(
            message_id=message_id,
            sign=sign,
            verify=verify,
            signers=core.signers,
            committed_only=committed_only,
        )


def committed_only(msg: Message) -> Message:
    """``msg`` reduced to its committed keys (plus ``commitments``); unchanged when unsigned."""
    from devices.core import only_committed

    return only_committed(msg)


@final
@dataclass(frozen=True)
class BlockInfo:
    """The Arweave block fields stamped on assignments (zeros in debug mode)."""

    height: int = 0
    hash: str = ZERO_ID
    timestamp: int = 0


DEBUG_BLOCK = BlockInfo()


@final
@dataclass(frozen=True)
class ChainHead:
    """Where a process's schedule stands: the next free slot and the raw last chain link."""

    next_slot: int = 0
    chain: bytes = b""

    @property
    def current(self) -> int:
        """The last assigned slot, -1 when nothing is assigned yet."""
        return self.next_slot - 1


@final
@dataclass(frozen=True)
class Assignment:
    """One durable assignment: its fields, and the signed assignment message (``body`` inside)."""

    process: str
    slot: int
    message_id: str
    timestamp: int
    block_height: int
    block_hash: str
    block_timestamp: int
    hash_chain: str
    message: Message

    @property
    def chain_raw(self) -> bytes:
        return b64u_decode(self.hash_chain)

    @property
    def body(self) -> Message:
        body = self.message.get_message("body")
        return body if body is not None else Message()

    def to_record(self) -> dict[str, Any]:
        return {
            "v": 1,
            "process": self.process,
            "slot": self.slot,
            "message-id": self.message_id,
            "timestamp": self.timestamp,
            "block-height": self.block_height,
            "block-hash": self.block_hash,
            "block-timestamp": self.block_timestamp,
            "hash-chain": self.hash_chain,
            "assignment": self.message,
        }

    @classmethod
    def from_record(cls, rec: Any) -> Assignment:
        """Raises: StorageCorrupt: the record lacks a field or has the wrong types."""
        try:
            fields = (
                rec["process"],
                rec["slot"],
                rec["message-id"],
                rec["timestamp"],
                rec["block-height"],
                rec["block-hash"],
                rec["block-timestamp"],
                rec["hash-chain"],
            )
            msg = as_message(rec["assignment"])
        except (KeyError, TypeError) as exc:
            raise StorageCorrupt(f"assignment record is incomplete: {exc}") from exc
        if not (isinstance(fields[1], int) and isinstance(fields[0], str) and isinstance(fields[7], str)):
            raise StorageCorrupt("assignment record has fields of the wrong type")
        return cls(*fields, message=msg)


def build_assignment(
    *,
    process_id: str,
    head: ChainHead,
    message: Message,
    message_id: str,
    timestamp_ms: int,
    block: BlockInfo,
    sign: Callable[[Message], Message],
) -> Assignment:
    """Build and sign the assignment of ``message`` at ``head.next_slot`` (pure but for ``sign``)."""
    a = prepare_assignment(
        process_id=process_id,
        head=head,
        message=message,
        message_id=message_id,
        timestamp_ms=timestamp_ms,
        block=block,
    )
    return replace(a, message=sign(a.message))


def prepare_assignment(
    *,
    process_id: str,
    head: ChainHead,
    message: Message,
    message_id: str,
    timestamp_ms: int,
    block: BlockInfo,
) -> Assignment:
    """The assignment of ``message`` at ``head.next_slot`` with its message not yet signed.

    The hash chain covers the scheduled message's id, not the assignment's signature, so a batch
    can be prepared in order and signed in parallel."""
    chain = b64u_encode(next_hash_chain(head.chain, message_id))
    path = message.get_text("path") or "compute"
    unsigned = Message(
        {
            "path": path,
            "data-protocol": "ao",
            "variant": "ao.N.1",
            "process": process_id,
            "epoch": "0",
            "slot": head.next_slot,
            "block-height": block.height,
            "block-hash": block.hash,
            "block-timestamp": block.timestamp,
            "timestamp": timestamp_ms,
            "hash-chain": chain,
            "body": message,
        }
    )
    return Assignment(
        process=process_id,
        slot=head.next_slot,
        message_id=message_id,
        timestamp=timestamp_ms,
        block_height=block.height,
        block_hash=block.hash,
        block_timestamp=block.timestamp,
        hash_chain=chain,
        message=unsigned,
    )
