"""Key material: Arweave RSA JWK wallets and Ed25519 keys; RSA-PSS sign and verify.

An Arweave address is ``b64u(sha256(modulus bytes))``; the modulus is the big-endian public
``n`` (512 bytes for the usual 4096-bit wallet). RSA-PSS verification accepts any salt length
(signers use 32 bytes, the digest length, or the maximum), so callers never have to guess.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ._b64 import b64u_decode, b64u_encode
from ._errors import DecodeError, KeyMaterialError

HashName = Literal["sha256", "sha384", "sha512"]
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
PUBLIC_EXPONENT = 65537


def address_of(public_key_bytes: bytes) -> str:
    """The Arweave/AO address of a public key (RSA modulus, ed25519 or secp256k1 key bytes)."""
    return b64u_encode(hashlib.sha256(public_key_bytes).digest())


def _int_bytes(value: int, length: int | None = None) -> bytes:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(size, "big")


def rsa_public_key(modulus: bytes, exponent: int = PUBLIC_EXPONENT) -> rsa.RSAPublicKey:
    """An RSA public key from raw modulus bytes.

    Raises:
        DecodeError: the modulus is not a usable RSA modulus.
    """
    n = int.from_bytes(modulus, "big")
    try:
        return rsa.RSAPublicNumbers(exponent, n).public_key()
    except ValueError as exc:
        raise DecodeError(f"unusable RSA modulus: {exc}") from exc


def rsa_pss_verify(modulus: bytes, message: bytes, signature: bytes, hash_name: HashName = "sha256") -> bool:
    """Verify an RSA-PSS signature with any salt length; False when it does not verify."""
    if len(modulus) < 64 or len(signature) != len(modulus):
        return False
    try:
        key = rsa_public_key(modulus)
    except DecodeError:
        return False
    algo = _HASHES[hash_name]()
    try:
        key.verify(
            signature,
            message,
            padding.PSS(mgf=padding.MGF1(algo), salt_length=padding.PSS.AUTO),
            algo,
        )
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class RsaWallet:
    """An Arweave RSA wallet (JWK). The private key never appears in ``repr``."""

    private_key: rsa.RSAPrivateKey

    def __repr__(self) -> str:
        return f"RsaWallet(address={self.address!r})"

    @classmethod
    def generate(cls, bits: int = 4096) -> RsaWallet:
        return cls(rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits))

    @classmethod
    def from_jwk(cls, jwk: dict[str, object]) -> RsaWallet:
        """Load a JWK dict (``kty: RSA`` with n, e, d, p, q, dp, dq, qi).

        Raises:
            KeyMaterialError: fields are missing or inconsistent.
        """
        try:
            fields = {
                k: int.from_bytes(b64u_decode(str(jwk[k])), "big")
                for k in ("n", "e", "d", "p", "q", "dp", "dq", "qi")
            }
            public = rsa.RSAPublicNumbers(fields["e"], fields["n"])
            private = rsa.RSAPrivateNumbers(
                p=fields["p"],
                q=fields["q"],
                d=fields["d"],
                dmp1=fields["dp"],
                dmq1=fields["dq"],
                iqmp=fields["qi"],
                public_numbers=public,
            )
            return cls(private.private_key())
        except (KeyError, ValueError, DecodeError, TypeError) as exc:
            raise KeyMaterialError(f"unusable RSA JWK: {exc}") from exc

    @classmethod
    def load(cls, path: str | Path) -> RsaWallet:
        """Load a JWK file.

        Raises:
            KeyMaterialError: unreadable or malformed file.
        """
        try:
            data = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyMaterialError(f"cannot read wallet {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise KeyMaterialError(f"wallet {path} is not a JSON object")
        return cls.from_jwk(data)

    @classmethod
    def load_or_create(cls, path: str | Path, bits: int = 4096) -> RsaWallet:
        """Load the wallet at ``path``, or generate one and write it there (mode 0600, fsync'd)."""
        p = Path(path)
        if p.exists():
            return cls.load(p)
        wallet = cls.generate(bits)
        wallet.save(p)
        return wallet

    def save(self, path: str | Path) -> None:
        """Write the JWK with mode 0600, fsync'd, atomically replacing any file at ``path``."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps(self.to_jwk()).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, p)

    def to_jwk(self) -> dict[str, str]:
        """The full private JWK. Keep it out of logs and responses."""
        priv = self.private_key.private_numbers()
        pub = priv.public_numbers
        return {
            "kty": "RSA",
            "n": b64u_encode(_int_bytes(pub.n)),
            "e": b64u_encode(_int_bytes(pub.e)),
            "d": b64u_encode(_int_bytes(priv.d)),
            "p": b64u_encode(_int_bytes(priv.p)),
            "q": b64u_encode(_int_bytes(priv.q)),
            "dp": b64u_encode(_int_bytes(priv.dmp1)),
            "dq": b64u_encode(_int_bytes(priv.dmq1)),
            "qi": b64u_encode(_int_bytes(priv.iqmp)),
        }

    @property
    def modulus(self) -> bytes:
        """The public modulus as big-endian bytes (the ANS-104 ``owner``)."""
        n = self.private_key.public_key().public_numbers().n
        return _int_bytes(n, (self.private_key.key_size + 7) // 8)

    @property
    def address(self) -> str:
        return address_of(self.modulus)

    def sign_pss(self, message: bytes, hash_name: HashName = "sha256", salt_length: int = 32) -> bytes:
        """RSA-PSS signature; ``salt_length=-1`` means the maximum salt."""
        algo = _HASHES[hash_name]()
        salt = padding.PSS.MAX_LENGTH if salt_length < 0 else salt_length
        return self.private_key.sign(message, padding.PSS(mgf=padding.MGF1(algo), salt_length=salt), algo)


@dataclass(frozen=True)
class Ed25519Key:
    """An Ed25519 signing key (ANS-104 type 2, libp2p identities)."""

    private_key: ed25519.Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"Ed25519Key(address={self.address!r})"

    @classmethod
    def generate(cls) -> Ed25519Key:
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Key:
        if len(seed) != 32:
            raise KeyMaterialError("an Ed25519 seed is 32 bytes")
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_bytes(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def address(self) -> str:
        return address_of(self.public_bytes)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Verify an Ed25519 signature; False when it does not verify or the key is malformed."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
