"""The ANS-104 signature-type registry and per-type verification (spec §1.1, §1.5).

| type | name           | sig | owner | signed message (DH = deep hash)                     |
|------|----------------|-----|-------|-----------------------------------------------------|
| 1    | arweave        | 512 | 512   | RSA-PSS SHA-256 over DH, any salt length            |
| 2    | ed25519        | 64  | 32    | Ed25519 over DH                                      |
| 3    | ethereum       | 65  | 65    | secp256k1 over keccak256(EIP-191 envelope of DH)     |
| 4    | solana         | 64  | 32    | Ed25519 over the 96 lower-case hex characters of DH  |
| 5    | injectedAptos  | 64  | 32    | parsed only                                          |
| 6    | multiAptos     | 2052| 1025  | parsed only                                          |
| 7    | typedEthereum  | 65  | 42    | parsed only                                          |

Public-key objects are cached per owner, so verifying many items from one signer parses the
key once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ._eth import eth_verify, secp256k1_owner_valid


@dataclass(frozen=True)
class SignatureType:
    """Layout and verifiability of one registered signature type."""

    code: int
    name: str
    signature_len: int
    owner_len: int
    verifiable: bool


SIGNATURE_TYPES: dict[int, SignatureType] = {
    t.code: t
    for t in (
        SignatureType(1, "arweave", 512, 512, True),
        SignatureType(2, "ed25519", 64, 32, True),
        SignatureType(3, "ethereum", 65, 65, True),
        SignatureType(4, "solana", 64, 32, True),
        SignatureType(5, "injectedAptos", 64, 32, False),
        SignatureType(6, "multiAptos", 2052, 1025, False),
        SignatureType(7, "typedEthereum", 65, 42, False),
    )
}

_PSS_AUTO = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
_SHA256 = hashes.SHA256()
_RSA_EXPONENT = 65537


@lru_cache(maxsize=1024)
def _rsa_key(modulus: bytes) -> rsa.RSAPublicKey | None:
    try:
        return rsa.RSAPublicNumbers(_RSA_EXPONENT, int.from_bytes(modulus, "big")).public_key()
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _ed25519_key(public: bytes) -> ed25519.Ed25519PublicKey:
    # Any 32 bytes load; a non-point owner fails at verification instead.
    return ed25519.Ed25519PublicKey.from_public_bytes(public)


def _rsa(owner: bytes, dh: bytes, signature: bytes) -> str | None:
    key = _rsa_key(owner)
    if key is None:
        return "owner is not a usable RSA modulus"
    try:
        key.verify(signature, dh, _PSS_AUTO, _SHA256)
    except (InvalidSignature, ValueError):
        return "RSA-PSS signature does not verify over the deep hash (or is not below the modulus)"
    return None


def _ed(owner: bytes, message: bytes, signature: bytes, what: str) -> str | None:
    try:
        _ed25519_key(owner).verify(signature, message)
    except InvalidSignature:
        return f"Ed25519 signature does not verify over {what}"
    return None


def _eth(owner: bytes, dh: bytes, signature: bytes) -> str | None:
    if not secp256k1_owner_valid(owner):
        return "owner is not an uncompressed secp256k1 public key"
    if not eth_verify(owner, dh, signature):
        return "secp256k1 signature does not verify over the EIP-191 hash of the deep hash"
    return None


def signature_problem(code: int, owner: bytes, dh: bytes, signature: bytes) -> str | None:
    """Why the signature of an item with deep hash ``dh`` is invalid, or None if it verifies."""
    st = SIGNATURE_TYPES.get(code)
    if st is None:
        return f"unknown signature type {code}"
    if len(signature) != st.signature_len or len(owner) != st.owner_len:
        return f"signature or owner length does not match signature type {code} ({st.name})"
    if code == 1:
        return _rsa(owner, dh, signature)
    if code == 2:
        return _ed(owner, dh, signature, "the deep hash")
    if code == 3:
        return _eth(owner, dh, signature)
    if code == 4:
        return _ed(owner, dh.hex().encode("ascii"), signature, "the hex of the deep hash")
    return f"signature type {code} ({st.name}) cannot be verified by this node"
