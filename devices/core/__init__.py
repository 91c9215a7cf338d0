"""AO-Core, the ground floor: pure and sans-io.

Theory of operation:

1. A *message* is an immutable map from keys to values (``Message``); the *TABM* form holds only
   byte strings and nested maps, with the types of other values recorded in ``ao-types``.
2. Every codec converts between TABM and one wire form (``structured@1.0``, ``httpsig@1.0``,
   ``flat@1.0``, ``json@1.0``, ``ans104@1.0``). Codecs take bytes and return bytes; none of them
   imports trio, hypercorn or libp2p, and a test checks that.
3. Ids come from commitments: an HMAC commitment gives the unsigned id, a signature commitment
   its committed id; a hashpath links a result to its inputs.
4. Every error raised here derives from ``CoreError`` (see ``_errors``).
"""

from __future__ import annotations

from ._b64 import b64_decode as b64_decode
from ._b64 import b64_encode as b64_encode
from ._b64 import b64u_decode as b64u_decode
from ._b64 import b64u_encode as b64u_encode
from ._errors import CoreError as CoreError
from ._errors import DecodeError as DecodeError
from ._errors import EncodeError as EncodeError
from ._errors import KeyMaterialError as KeyMaterialError
from ._errors import LimitExceeded as LimitExceeded
from ._errors import SignatureInvalid as SignatureInvalid
from ._keys import Ed25519Key as Ed25519Key
from ._keys import RsaWallet as RsaWallet
from ._keys import address_of as address_of
from ._keys import ed25519_verify as ed25519_verify
from ._keys import rsa_pss_verify as rsa_pss_verify
from ._message import Atom as Atom
from ._message import Link as Link
from ._message import Message as Message
from ._message import Value as Value
from ._message import freeze as freeze
from ._message import is_private as is_private

__all__ = [
    "Atom",
    "Link",
    "Message",
    "Value",
    "freeze",
    "is_private",
    "CoreError",
    "DecodeError",
    "Ed25519Key",
    "EncodeError",
    "KeyMaterialError",
    "LimitExceeded",
    "RsaWallet",
    "SignatureInvalid",
    "address_of",
    "b64_decode",
    "b64_encode",
    "b64u_decode",
    "b64u_encode",
    "ed25519_verify",
    "rsa_pss_verify",
]
