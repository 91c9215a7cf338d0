"""httpsig signature bases and the ``signature`` / ``signature-input`` wire form of commitments.

The signature base (Sep 2025; not RFC 9421 derivation):

* components are the committed keys as the httpsig encoding names them — in sorted order of the
  encoded fields, ``body`` replaced by ``content-digest``, nested values as ``<key>+link``;
* one line ``"<name>": <value>`` per component (case kept, value verbatim), joined by LF, then
  LF and ``"@signature-params": (<components>)<params>``, where ``@`` is prefixed in the
  parameter list only to ``method``, ``path`` and the other RFC 9421 derived names;
* parameters are ``alg`` (the commitment ``type``), ``bundle``, ``created``, ``expires``,
  ``keyid``, ``nonce``, ``tag`` — those present, in name order.

On the wire each commitment is one entry labelled ``comm-<lower(b64u(sha256(signature)))>``.
Any label is accepted on input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from . import _sf
from ._b64 import b64_decode, b64u_decode, b64u_encode
from ._errors import DecodeError, SignatureInvalid
from ._http import content_digest, encode_tabm
from ._keys import address_of
from ._message import Message, Value, is_private
from ._structured import is_id_key, numbered_to_tuple, sort_key

DERIVED = frozenset(
    {"method", "target-uri", "authority", "scheme", "request-target", "path", "query", "query-param"}
)
BASE_PARAMS = ("alg", "bundle", "created", "expires", "keyid", "nonce", "tag")
_WIRE_PARAMS = ("alg", "keyid", "tag", "created", "expires", "nonce")
_NOT_PARAMS = frozenset(
    {
        "alg",
        "keyid",
        "tag",
        "created",
        "expires",
        "nonce",
        "committed",
        "signature",
        "type",
        "commitment-device",
        "committer",
    }
)


def committed_list(commitment: Mapping[str, Any]) -> list[str]:
    """The ``committed`` keys of a commitment (numbered message or list) as text."""
    raw = commitment.get("committed", ())
    items = numbered_to_tuple(raw) if isinstance(raw, Mapping) else raw
    out: list[str] = []
    for item in items:
        if not isinstance(item, bytes):
            raise DecodeError("committed keys are text")
        out.append(item.decode("utf-8", "replace"))
    return out


def numbered(keys: list[str]) -> Message:
    return Message({str(i): k.encode("utf-8") for i, k in enumerate(keys, 1)})


def _strip_link(key: str) -> str:
    return key[:-5] if key.endswith("+link") and len(key) > 5 else key


def _list_replace(items: list[str], old: str, new: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        out.extend(new if item == old else [item])
    return out


def from_siginfo_keys(fields: Mapping[str, Any], body_keys: list[str], keys: list[str]) -> list[str]:
    """httpsig component names → message keys (``content-digest`` → the body keys, etc.)."""
    base = [k[1:] if k.startswith("@") else k for k in keys]
    with_body = _list_replace(base, "content-digest", body_keys)
    if "ao-body-key" in with_body:
        body_key = fields.get("ao-body-key", b"body")
        name = body_key.decode("utf-8", "replace") if isinstance(body_key, bytes) else "body"
        with_body = _list_replace(with_body, "body", [name])
        with_body.remove("ao-body-key")
    ctype = fields.get("content-type")
    if isinstance(ctype, bytes) and ctype.startswith(b"multipart/"):
        with_body = [k for k in with_body if k != "content-type"]
    return [_strip_link(k) for k in with_body]


def normalize_for_encoding(
    tabm: Mapping[str, Any], committed: list[str]
) -> tuple[dict[str, bytes], list[str], list[str]]:
    """``(encoded fields with content-digest, component names, committed message keys)``."""
    inputs = [key if key in tabm or key + "+link" not in tabm else key + "+link" for key in committed]
    only = {k: tabm[k] for k in inputs if k in tabm and k != "commitments"}
    if "ao-ids" in inputs:  # the reference loses ID keys on re-encoding; we keep them
        only.update({k: v for k, v in tabm.items() if is_id_key(k) and isinstance(v, bytes)})
    with_info = encode_tabm(only)
    encoded = {k: v for k, v in with_info.items() if k != "body"}
    if "body" in with_info and "content-digest" not in encoded:
        encoded["content-digest"] = content_digest(with_info["body"])
    keys = sorted(encoded, key=sort_key)
    body_key = with_info.get("ao-body-key")
    if isinstance(body_key, bytes):
        keys = _list_replace(keys, body_key.decode("utf-8", "replace"), ["body", "ao-body-key"])
    keys = ["content-digest" if k == "body" else k for k in keys]
    body_keys = [k for k in committed if k not in encoded and k + "+link" not in encoded]
    return encoded, keys, from_siginfo_keys(with_info, body_keys, keys)


def base_params(commitment: Mapping[str, Any]) -> tuple[tuple[str, _sf.Bare], ...]:
    values = dict(commitment)
    values["alg"] = commitment.get("type", b"")
    out: list[tuple[str, _sf.Bare]] = []
    for name in BASE_PARAMS:
        value = values.get(name)
        if isinstance(value, bytes) or (isinstance(value, int) and not isinstance(value, bool)):
            out.append((name, value))
    return tuple(out)


def signature_base(encoded: Mapping[str, bytes], components: list[str], params: _sf.Params) -> bytes:
    """The bytes that are signed (or HMAC'd).

    Raises:
        SignatureInvalid: a component names a field the message does not have.
    """
    lines: list[bytes] = []
    for name in components:
        value = encoded.get(name)
        if value is None:
            raise SignatureInvalid(f"signature component {name!r} is missing from the message")
        lines.append(b'"' + name.encode("utf-8") + b'": ' + value)
    items = b" ".join([component_item(c) for c in components])
    return b"\n".join(lines) + b'\n"@signature-params": (' + items + b")" + _sf.ser_params(params)


@lru_cache(maxsize=4096)
def component_item(name: str) -> bytes:
    """A component's SF item in ``@signature-params``: the name without leading ``@``, given one
    ``@`` back when it is an RFC 9421 derived component (``@path``), as an SF string."""
    bare = name.lstrip("@")
    return _sf.ser_item(_sf.Item(("@" + bare if bare in DERIVED else bare).encode("utf-8")))


# -- commitments ↔ wire ---------------------------------------------------------------------------


def alg_of(commitment: Mapping[str, Any]) -> bytes:
    device = commitment.get("commitment-device", b"httpsig@1.0")
    kind = commitment.get("type")
    if device == b"httpsig@1.0" and isinstance(kind, bytes):
        return kind
    dev = device if isinstance(device, bytes) else b""
    return dev + (b"/" + kind if isinstance(kind, bytes) else b"")


def _param_value(value: Value) -> _sf.Bare | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return value
    if isinstance(value, tuple):
        return b", ".join(v for v in value if isinstance(v, bytes))
    if isinstance(value, Message):
        parts: list[bytes] = []
        for key in sorted(value, key=sort_key):
            entry = value[key]
            if isinstance(entry, Message):
                name, val = entry.get("name", b""), entry.get("value", b"")
                if isinstance(name, bytes) and isinstance(val, bytes):
                    parts.append(key.encode() + b":" + name + b":" + val)
            elif isinstance(entry, bytes):
                parts.append(entry)
        return b", ".join(parts)
    return None


def commitments_to_siginfo(
    link_tabm: Mapping[str, Any], bundle_tabm: Mapping[str, Any] | None, commitments: Mapping[str, Any]
) -> dict[str, bytes]:
    """``signature`` and ``signature-input`` headers for a message's commitments."""
    sigs: dict[str, _sf.Member] = {}
    inputs: dict[str, _sf.Member] = {}
    for commitment in commitments.values():
        if not isinstance(commitment, Mapping) or not isinstance(commitment.get("signature"), bytes):
            continue
        sig = b64u_decode(commitment["signature"])
        tabm = bundle_tabm if commitment.get("bundle") == b"true" and bundle_tabm else link_tabm
        _, components, _ = normalize_for_encoding(tabm, committed_list(commitment))
        params: list[tuple[str, _sf.Bare]] = []
        full = dict(commitment)
        full["alg"] = alg_of(commitment)
        for name in _WIRE_PARAMS:
            value = full.get(name)
            if isinstance(value, bytes | int) and not isinstance(value, bool):
                params.append((name, value))
        for name in sorted(k for k in commitment if k not in _NOT_PARAMS and not is_private(k)):
            extra = _param_value(commitment[name])
            if extra is not None:
                params.append((name, extra))
        label = "comm-" + b64u_encode(hashlib.sha256(sig).digest()).lower()
        sigs[label] = _sf.Item(_sf.ByteSeq(sig))
        inputs[label] = _sf.InnerList(tuple(_sf.Item(c.encode()) for c in components), tuple(params))
    if not sigs:
        return {}
    order = sorted(sigs)
    return {
        "signature": _sf.ser_dictionary([(k, sigs[k]) for k in order]),
        "signature-input": _sf.ser_dictionary([(k, inputs[k]) for k in order]),
    }


def _device_keys(alg: bytes) -> dict[str, bytes]:
    dev, at, spec = alg.partition(b"@")
    if not at:
        return {"commitment-device": b"httpsig@1.0", "type": alg}
    version, slash, kind = spec.partition(b"/")
    if not slash:
        return {"commitment-device": alg}
    return {"commitment-device": dev + b"@" + version, "type": kind}


def _decode_key(text: bytes) -> bytes:
    try:
        return b64_decode(text)
    except DecodeError:
        return b64u_decode(text)


def keyid_committer(keyid: bytes, kind: bytes | None) -> str | None:
    """The committer address a keyid names (``publickey:`` or bare RSA keys), else None."""
    scheme, colon, rest = keyid.partition(b":")
    if not colon:
        scheme, rest = (b"publickey" if kind == b"rsa-pss-sha512" else b"constant"), keyid
    if scheme == b"publickey":
        return address_of(_decode_key(rest))
    if scheme == b"secret":
        return rest.decode("ascii", "replace")
    return None


def _nested_map(text: bytes) -> Value:
    entries: dict[str, Value] = {}
    for part in text.split(b", "):
        pieces = part.split(b":")
        if len(pieces) != 3:
            return text
        entries[pieces[0].decode("utf-8", "replace")] = Message(name=pieces[1], value=pieces[2])
    return Message(entries)


RAW_BASE = "priv-received-base"


def _as_received(fields: Mapping[str, Any], sig_input: _sf.InnerList) -> bytes | None:
    """The RFC 9421 base an RFC 9421 signer (May 2025, ao-core-libs) signed: the covered header
    values as received; None when a component is not a received single-line field."""
    lines: list[bytes] = []
    for item in sig_input.items:
        name = item.value.decode("utf-8", "replace") if isinstance(item.value, bytes) else "@"
        value = fields.get(name)
        if name.startswith("@") or '"' in name or not isinstance(value, bytes) or b"\n" in value:
            return None
        lines.append(b'"' + name.encode() + b'": ' + value)
    return b"\n".join(lines) + b'\n"@signature-params": ' + _sf.ser_member(sig_input)


def received_base(msg: Mapping[str, Any], base: bytes) -> bytes | None:
    """``base`` if the message still holds the values it covers (decoded as on receipt)."""
    from ._http import strip_transport
    from ._structured import from_tabm

    covered: dict[str, bytes] = {}
    for line in base.split(b"\n")[:-1]:
        if not line.startswith(b'"') or b'": ' not in line:
            return None
        name, _, value = line[1:].partition(b'": ')
        covered[name.decode("utf-8", "replace")] = value
    try:
        decoded = from_tabm(strip_transport(covered), lenient=True)
    except DecodeError:
        return None
    return None if any(msg.get(k) != v for k, v in decoded.items()) else base


def siginfo_to_commitments(fields: Mapping[str, Any], body_keys: list[str]) -> dict[str, Message]:
    """Commitments from the ``signature``/``signature-input`` fields (any label).

    Raises:
        DecodeError: malformed dictionaries, a signature without input, or a bad keyid.
    """
    raw_sig, raw_input = fields.get("signature"), fields.get("signature-input")
    if not isinstance(raw_sig, bytes) or not isinstance(raw_input, bytes):
        return {}
    inputs = dict(_sf.parse_dictionary(raw_input))
    out: dict[str, Message] = {}
    for label, member in _sf.parse_dictionary(raw_sig):
        sig_input = inputs.get(label)
        if not isinstance(member, _sf.Item) or not isinstance(member.value, _sf.ByteSeq):
            raise DecodeError(f"signature {label!r} is not a byte sequence")
        if not isinstance(sig_input, _sf.InnerList):
            raise DecodeError(f"signature {label!r} has no signature-input")
        sig = member.value.value
        params: dict[str, Value] = {}
        for name, value in sig_input.params:
            if isinstance(value, _sf.ByteSeq):
                params[name] = b64u_encode(value.value).encode()
            elif isinstance(value, _sf.Token):
                params[name] = value.value.encode()
            elif isinstance(value, bytes) and name != "keyid":
                params[name] = _nested_map(value)
            else:
                params[name] = value
        alg = params.pop("alg", None)
        if not isinstance(alg, bytes) or not isinstance(params.get("keyid"), bytes):
            raise DecodeError(f"signature {label!r} lacks alg or keyid")
        commitment: dict[str, Value] = {**_device_keys(alg), **params}
        components = [
            i.value.decode("utf-8", "replace") for i in sig_input.items if isinstance(i.value, bytes)
        ]
        commitment["committed"] = numbered(from_siginfo_keys(fields, body_keys, components))
        commitment["signature"] = b64u_encode(sig).encode()
        keyid = params["keyid"]
        if not isinstance(keyid, bytes):
            raise DecodeError(f"signature {label!r} has a non-text keyid")
        kind = commitment.get("type")
        committer = keyid_committer(keyid, kind if isinstance(kind, bytes) else None)
        if committer is not None:
            commitment["committer"] = committer.encode()
        if not label.startswith("comm-"):
            received = _as_received(fields, sig_input)
            if received is not None:
                commitment[RAW_BASE] = received
        cid = b64u_encode(sig if len(sig) == 32 else hashlib.sha256(sig).digest())
        out[cid] = Message(commitment)
    return out
