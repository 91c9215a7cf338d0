"""Ethereum (secp256k1) keys for ANS-104 signature type 3.

The signature covers EIP-191 ``personal_sign`` of the 48-byte deep hash:
``keccak256("\\x19Ethereum Signed Message:\\n48" ‖ DH)``; it is written ``r ‖ s ‖ v`` with
``v = recovery id + 27``. Signatures are low-s (libsecp256k1 signs and verifies that way, as
arbundles does). Verification ignores ``v`` and checks ``r ‖ s`` against the owner key, as
arbundles does. Keccak-256 here is the original Keccak, not SHA3-256.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from coincurve import PrivateKey, PublicKey
from coincurve.ecdsa import cdata_to_der, deserialize_compact
from Crypto.Hash import keccak

from .._errors import KeyMaterialError

OWNER_LEN = 65
SIGNATURE_LEN = 65


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the Ethereum hash, not SHA3-256)."""
    return bytes(keccak.new(digest_bits=256, data=data).digest())


def eip191_digest(message: bytes) -> bytes:
    """keccak256 of the EIP-191 ``personal_sign`` envelope around ``message``."""
    prefix = b"\x19Ethereum Signed Message:\n" + str(len(message)).encode("ascii")
    return keccak256(prefix + message)


def ethereum_address(owner: bytes) -> str:
    """The ``0x`` address (lower-case hex) of a 65-byte uncompressed public key."""
    return "0x" + keccak256(owner[1:])[-20:].hex()


@lru_cache(maxsize=1024)
def _public_key(owner: bytes) -> PublicKey | None:
    if len(owner) != OWNER_LEN or owner[0] != 0x04:
        return None
    try:
        return PublicKey(owner)
    except ValueError:
        return None


def secp256k1_owner_valid(owner: bytes) -> bool:
    """Whether ``owner`` is an uncompressed secp256k1 point on the curve."""
    return _public_key(owner) is not None


def eth_verify(owner: bytes, message: bytes, signature: bytes) -> bool:
    """Verify a type-3 signature (``r ‖ s ‖ v``) of ``message`` by the key ``owner``."""
    key = _public_key(owner)
    if key is None or len(signature) != SIGNATURE_LEN:
        return False
    try:
        der = cdata_to_der(deserialize_compact(signature[:64]))
        return bool(key.verify(der, eip191_digest(message), hasher=None))
    except (ValueError, TypeError):
        return False


@dataclass(frozen=True)
class EthereumKey:
    """A secp256k1 signing key (ANS-104 type 3). The secret never appears in ``repr``."""

    private_key: PrivateKey

    def __repr__(self) -> str:
        return f"EthereumKey(address={self.address!r})"

    @classmethod
    def generate(cls) -> EthereumKey:
        return cls(PrivateKey())

    @classmethod
    def from_secret(cls, secret: bytes) -> EthereumKey:
        """A key from its 32-byte secret.

        Raises:
            KeyMaterialError: the secret is not a valid secp256k1 scalar.
        """
        if len(secret) != 32:
            raise KeyMaterialError("a secp256k1 secret is 32 bytes")
        try:
            return cls(PrivateKey(secret))
        except ValueError as exc:
            raise KeyMaterialError(f"unusable secp256k1 secret: {exc}") from exc

    @property
    def public_bytes(self) -> bytes:
        """The 65-byte uncompressed public key (the ANS-104 ``owner``)."""
        return bytes(self.private_key.public_key.format(compressed=False))

    @property
    def address(self) -> str:
        """The Ethereum ``0x`` address."""
        return ethereum_address(self.public_bytes)

    def sign(self, message: bytes) -> bytes:
        """EIP-191 signature of ``message`` as ``r ‖ s ‖ v`` (v = 27/28), low-s, RFC 6979."""
        rec = self.private_key.sign_recoverable(eip191_digest(message), hasher=None)
        return bytes(rec[:64]) + bytes([rec[64] + 27])
