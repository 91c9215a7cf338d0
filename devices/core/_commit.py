"""httpsig commitments: the HMAC (unsigned id) commitment, RSA-PSS-SHA512 signing and verification.

Commitment fields (Sep 2025): ``commitment-device``, ``type`` (``rsa-pss-sha512`` or
``hmac-sha256``), ``keyid`` (``publickey:<std b64 of n>`` or ``constant:ao``), ``committer``
(signatures only), ``committed`` (numbered message of the covered keys), ``signature`` (b64u) and
optional ``tag`` (a hashpath) / ``bundle``.

Commitment ids: an RSA commitment is ``b64u(sha256(signature))``; the HMAC commitment is the HMAC
itself. Signing adds the RSA commitment and then recomputes the HMAC over the same keys.
Verification re-encodes the message (link mode unless the commitment says ``bundle``), rebuilds the
base and checks each commitment; unlike the reference, it also checks that each commitment id and
committer match the signature and key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._b64 import b64_encode, b64u_decode, b64u_encode
from ._errors import CoreError, DecodeError, SignatureInvalid
from ._keys import RsaWallet, address_of, rsa_pss_verify
from ._message import Message, Value
from ._siginfo import (
    RAW_BASE,
    _decode_key,
    base_params,
    committed_list,
    normalize_for_encoding,
    numbered,
    received_base,
    signature_base,
)
from ._structured import sort_key, to_tabm

HTTPSIG = b"httpsig@1.0"
HMAC_KEYID = b"constant:ao"


def is_hmac(commitment: Value) -> bool:
    return (
        isinstance(commitment, Mapping)
        and commitment.get("commitment-device", HTTPSIG) == HTTPSIG
        and commitment.get("type") == b"hmac-sha256"
        and "committer" not in commitment
    )


def _commitments(msg: Mapping[str, Any]) -> dict[str, Message]:
    raw = msg.get("commitments")
    if not isinstance(raw, Mapping):
        return {}
    return {k: v for k, v in raw.items() if isinstance(v, Message)}


def signer_ids(msg: Mapping[str, Any]) -> list[str]:
    """Ids of the commitments that name a committer, in id order."""
    return sorted((k for k, c in _commitments(msg).items() if "committer" in c), key=sort_key)


def keys_to_commit(tabm: Mapping[str, Any], commitments: Mapping[str, Message]) -> list[str]:
    """Keys a new commitment covers: those of the existing signers (or HMAC), else every key."""
    existing = _selected_keys(commitments)
    if existing:
        return existing
    return [
        k[:-5] if k.endswith("+link") else k
        for k in sorted(tabm, key=sort_key)
        if k not in ("commitments", "priv")
    ]


def _selected_keys(commitments: Mapping[str, Message]) -> list[str]:
    chosen = [c for c in commitments.values() if "committer" in c]
    if not chosen:
        chosen = [c for c in commitments.values() if is_hmac(c)]
    lists = [committed_list(c) for c in chosen]
    if not lists:
        return []
    out: list[str] = []
    for key in (k for lst in lists for k in lst):
        if key not in out and all(key in lst for lst in lists):
            out.append(key)
    return [k[:-5] if k.endswith("+link") else k for k in out]


# HMAC-SHA256 (RFC 2104) under the constant key, with the padded-key blocks hashed once.
_HMAC_BLOCK = HMAC_KEYID.ljust(64, b"\0")
_HMAC_INNER = hashlib.sha256(bytes(b ^ 0x36 for b in _HMAC_BLOCK))
_HMAC_OUTER = hashlib.sha256(bytes(b ^ 0x5C for b in _HMAC_BLOCK))


def hmac_constant(base: bytes) -> bytes:
    """``HMAC-SHA256(constant:ao, base)`` (what ``hmac.digest`` gives, without re-keying)."""
    inner = _HMAC_INNER.copy()
    inner.update(base)
    outer = _HMAC_OUTER.copy()
    outer.update(inner.digest())
    return outer.digest()


def _hmac(base: bytes, key: bytes = HMAC_KEYID) -> str:
    if key == HMAC_KEYID:
        return b64u_encode(hmac_constant(base))
    return b64u_encode(hmac.new(key, base, hashlib.sha256).digest())


def hmac_over(
    msg: Mapping[str, Any], committed: list[str] | None = None, *, bundle: bool = False
) -> tuple[str, list[str]]:
    """The HMAC id of ``msg`` over ``committed`` (default: every key) and the covered keys."""
    tabm = to_tabm(msg, bundle=False)
    keys = committed if committed is not None else keys_to_commit(tabm, {})
    if bundle:
        tabm = to_tabm(msg, bundle=True)
    encoded, components, covered = normalize_for_encoding(tabm, keys)
    fields = {"type": b"hmac-sha256", "keyid": HMAC_KEYID}
    if bundle:
        fields["bundle"] = b"true"
    return _hmac(signature_base(encoded, components, base_params(fields))), covered


def hmac_commitment(msg: Message, *, bundle: bool = False) -> tuple[str, Message]:
    """Add (or replace) the HMAC commitment; returns ``(unsigned id, committed message)``.

    ``bundle=True`` commits to the bundled (multipart) encoding, as HyperBEAM does for commitments
    requested with ``bundle``; the default commits to the ``+link`` form.
    """
    others = {k: v for k, v in _commitments(msg).items() if not is_hmac(v)}
    tabm = to_tabm(msg, bundle=False)
    hid, covered = hmac_over(msg, keys_to_commit(tabm, others), bundle=bundle)
    fields: dict[str, Value] = {
        "commitment-device": HTTPSIG,
        "committed": numbered(covered),
        "keyid": HMAC_KEYID,
        "signature": hid.encode("ascii"),
        "type": b"hmac-sha256",
    }
    if bundle:
        fields["bundle"] = b"true"
    return hid, msg.set("commitments", Message({**others, hid: Message(fields)}))


def commit(msg: Message, wallet: RsaWallet, *, tag: str | None = None, bundle: bool = False) -> Message:
    """Sign ``msg`` with httpsig RSA-PSS-SHA512 (salt 64) and refresh its HMAC commitment.

    ``tag`` (typically a hashpath) becomes a signed parameter; without it, ``priv/hashpath`` is used
    when present. ``bundle=True`` signs the bundled encoding (commitment ``bundle: "true"``).
    """
    if tag is None:
        priv = msg.get("priv")
        hp = priv.get("hashpath") if isinstance(priv, Message) else None
        tag = hp.decode("utf-8") if isinstance(hp, bytes) else None
    existing = _commitments(msg)
    others = {k: v for k, v in existing.items() if not is_hmac(v)}
    tabm = to_tabm(msg, bundle=False)
    committed = keys_to_commit(tabm, existing)
    fields: dict[str, Value] = {
        "commitment-device": HTTPSIG,
        "committer": wallet.address.encode("ascii"),
        "keyid": b"publickey:" + b64_encode(wallet.modulus).encode("ascii"),
        "type": b"rsa-pss-sha512",
    }
    if tag is not None:
        fields["tag"] = tag.encode("utf-8")
    if bundle:
        fields["bundle"] = b"true"
        tabm = to_tabm(msg, bundle=True)
    encoded, components, covered = normalize_for_encoding(tabm, committed)
    sig = wallet.sign_pss(signature_base(encoded, components, base_params(fields)), "sha512", 64)
    cid = b64u_encode(hashlib.sha256(sig).digest())
    fields["committed"] = numbered(covered)
    fields["signature"] = b64u_encode(sig).encode("ascii")
    signed = msg.set("commitments", Message({**others, cid: Message(fields)}))
    return hmac_commitment(signed, bundle=bundle)[1]


# -- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommitmentCheck:
    id: str
    device: str
    type: str
    committer: str | None
    valid: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Per-commitment results. A message without commitments verifies (``valid`` is True)."""

    checks: tuple[CommitmentCheck, ...]

    @property
    def valid(self) -> bool:
        return all(c.valid for c in self.checks)

    @property
    def committers(self) -> list[str]:
        return [c.committer for c in self.checks if c.valid and c.committer]

    @property
    def failed(self) -> list[CommitmentCheck]:
        return [c for c in self.checks if not c.valid]

    def __bool__(self) -> bool:
        return self.valid


def rsa_key_of(keyid: bytes) -> bytes:
    """The RSA modulus named by a keyid (``publickey:<b64>``, bare std or url base64)."""
    scheme, colon, rest = keyid.partition(b":")
    raw = rest if colon else keyid
    if colon and scheme != b"publickey":
        raise DecodeError(f"keyid scheme {scheme!r} is not a public key")
    return _decode_key(raw)


def _verify_httpsig(msg: Message, cid: str, c: Message) -> tuple[bool, str]:
    kind = c.get("type")
    sig_text = c.get("signature")
    if not isinstance(sig_text, bytes):
        return False, "no signature"
    bundle = c.get("bundle") == b"true"
    tabm = to_tabm(msg, bundle=bundle)
    encoded, components, _ = normalize_for_encoding(tabm, committed_list(c))
    base = signature_base(encoded, components, base_params(c))
    if kind == b"hmac-sha256":
        hkey = c.get("keyid", HMAC_KEYID)
        if not isinstance(hkey, bytes) or not hkey.startswith(b"constant:"):
            return False, "only constant-key HMAC commitments can be checked"
        actual = _hmac(base, hkey)
        if actual.encode() != sig_text:
            return False, "HMAC does not match"
        return (cid == actual, "" if cid == actual else "commitment id is not its HMAC")
    if kind in (b"rsa-pss-sha512", None):
        keyid = c.get("keyid")
        if not isinstance(keyid, bytes):
            return False, "no keyid"
        modulus = rsa_key_of(keyid)
        sig = b64u_decode(sig_text)
        if cid != b64u_encode(hashlib.sha256(sig).digest()):
            return False, "commitment id is not sha256(signature)"
        committer = c.get("committer")
        if isinstance(committer, bytes) and committer.decode("ascii", "replace") != address_of(modulus):
            return False, "committer does not match the key"
        ok = rsa_pss_verify(modulus, base, sig, "sha512")
        stored = c.get(RAW_BASE)
        if not ok and isinstance(stored, bytes):  # an RFC 9421 signer (May 2025, ao-core-libs)
            received = received_base(msg, stored)
            ok = received is not None and rsa_pss_verify(modulus, received, sig, "sha512")
        return ok, "" if ok else "RSA-PSS signature does not verify"
    return False, f"unsupported httpsig type {kind!r}"


def verify(msg: Message) -> VerifyReport:
    """Check every commitment of ``msg``; never raises for bad signatures (see the report)."""
    checks: list[CommitmentCheck] = []
    for cid, c in sorted(_commitments(msg).items()):
        device = c.get("commitment-device", HTTPSIG)
        kind = c.get("type", b"")
        committer = c.get("committer")
        try:
            if device == HTTPSIG:
                ok, reason = _verify_httpsig(msg, cid, c)
            elif device == b"ans104@1.0":
                from ._ans104map import verify_ans104_commitment

                ok, reason = verify_ans104_commitment(msg, cid, c)
            else:
                ok, reason = False, "unsupported commitment device"
        except (CoreError, ValueError) as exc:
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        checks.append(
            CommitmentCheck(
                id=cid,
                device=device.decode("utf-8", "replace") if isinstance(device, bytes) else "?",
                type=kind.decode("utf-8", "replace") if isinstance(kind, bytes) else "?",
                committer=committer.decode("ascii", "replace") if isinstance(committer, bytes) else None,
                valid=ok,
                reason=reason,
            )
        )
    return VerifyReport(tuple(checks))


def signers(msg: Mapping[str, Any]) -> list[str]:
    """Committer addresses of ``msg``'s commitments (by commitment id), unverified."""
    out: list[str] = []
    comms = _commitments(msg)
    for cid in signer_ids(msg):
        who = comms[cid].get("committer")
        if isinstance(who, bytes):
            out.append(who.decode("ascii", "replace"))
    return out


def committed_keys(msg: Mapping[str, Any]) -> list[str]:
    """Keys covered by every signer commitment (or by the HMAC when unsigned); [] if none."""
    return _selected_keys(_commitments(msg))


def only_committed(msg: Message) -> Message:
    """``msg`` restricted to the keys its commitments cover (plus ``commitments``), so that keys
    added after signing are never taken as signed (spec §11 D22). A message without commitments
    is returned unchanged. TABM-only names among the committed keys (``ao-types``...) are simply
    not message keys; they never widen the result."""
    if not _commitments(msg):
        return msg
    keys = {k.lower() for k in committed_keys(msg)}
    return Message({k: v for k, v in msg.items() if k == "commitments" or k.lower() in keys})


def require_valid(msg: Message) -> VerifyReport:
    """``verify`` that raises SignatureInvalid naming the first failing commitment."""
    report = verify(msg)
    if not report.valid:
        bad = report.failed[0]
        raise SignatureInvalid(f"commitment {bad.id} ({bad.type}) does not verify: {bad.reason}")
    return report
