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

Modules: ``_sf`` (HyperBEAM's structured-field dialect), ``_structured`` (``to_tabm``/``from_tabm``,
typed values), ``_http`` (TABM ↔ HTTP field map, multipart), ``_httpsig`` (messages ↔
``HttpParts``), ``_siginfo`` (signature bases, ``signature``/``signature-input``), ``_commit``
(HMAC and RSA-PSS commitments, ``verify``), ``_ids``, ``_hashpath``, ``_json``, ``_flat`` and
``_ans104map`` (data items ↔ messages; the byte layer is ``devices.core.ans104``).
"""

from __future__ import annotations

from ._ans104map import ItemFields as ItemFields
from ._ans104map import ans104_to_message as ans104_to_message
from ._ans104map import item_to_message as item_to_message
from ._ans104map import message_to_item_fields as message_to_item_fields
from ._b64 import b64_decode as b64_decode
from ._b64 import b64_encode as b64_encode
from ._b64 import b64u_decode as b64u_decode
from ._b64 import b64u_encode as b64u_encode
from ._commit import CommitmentCheck as CommitmentCheck
from ._commit import VerifyReport as VerifyReport
from ._commit import commit as commit
from ._commit import committed_keys as committed_keys
from ._commit import hmac_commitment as hmac_commitment
from ._commit import only_committed as only_committed
from ._commit import require_valid as require_valid
from ._commit import signers as signers
from ._commit import verify as verify
from ._errors import CoreError as CoreError
from ._errors import DecodeError as DecodeError
from ._errors import EncodeError as EncodeError
from ._errors import KeyMaterialError as KeyMaterialError
from ._errors import LimitExceeded as LimitExceeded
from ._errors import SignatureInvalid as SignatureInvalid
from ._flat import flat_decode as flat_decode
from ._flat import flat_encode as flat_encode
from ._hashpath import hashpath as hashpath
from ._hashpath import hashpath_of as hashpath_of
from ._httpsig import HttpParts as HttpParts
from ._httpsig import httpsig_decode as httpsig_decode
from ._httpsig import httpsig_encode as httpsig_encode
from ._ids import accumulate as accumulate
from ._ids import message_id as message_id
from ._json import json_decode as json_decode
from ._json import json_encode as json_encode
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
from ._structured import decode_ao_types as decode_ao_types
from ._structured import decode_value as decode_value
from ._structured import encode_ao_types as encode_ao_types
from ._structured import encode_value as encode_value
from ._structured import from_tabm as from_tabm
from ._structured import linked_values as linked_values
from ._structured import to_tabm as to_tabm

__all__ = [
    "Atom",
    "CommitmentCheck",
    "CoreError",
    "DecodeError",
    "Ed25519Key",
    "EncodeError",
    "HttpParts",
    "ItemFields",
    "KeyMaterialError",
    "LimitExceeded",
    "Link",
    "Message",
    "RsaWallet",
    "SignatureInvalid",
    "Value",
    "VerifyReport",
    "accumulate",
    "address_of",
    "ans104_to_message",
    "b64_decode",
    "b64_encode",
    "b64u_decode",
    "b64u_encode",
    "commit",
    "committed_keys",
    "decode_ao_types",
    "decode_value",
    "ed25519_verify",
    "encode_ao_types",
    "encode_value",
    "flat_decode",
    "flat_encode",
    "freeze",
    "from_tabm",
    "hashpath",
    "hashpath_of",
    "hmac_commitment",
    "httpsig_decode",
    "httpsig_encode",
    "is_private",
    "item_to_message",
    "json_decode",
    "json_encode",
    "linked_values",
    "message_id",
    "message_to_item_fields",
    "only_committed",
    "require_valid",
    "rsa_pss_verify",
    "signers",
    "to_tabm",
    "verify",
]
