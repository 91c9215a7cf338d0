"""The node's single doorway to the AO-Core codecs of ``devices.core``.

Every call the node makes into the codec layer goes through one function here, so that the
request decoder, the reply encoder, typed-value decoding, verification, signing and hashpaths each
have exactly one call site. Where ``devices.core`` does not (yet) export a codec function, the
function below says so: typed values and ``ao-types`` fall back to a small local decoder of the
scalar types; signing, verification and hashpaths report that they are unavailable (``None`` /
``False``) instead of inventing a value.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

import devices.core as core
from devices.core import Atom, DecodeError, Message, Value

if TYPE_CHECKING:
    from collections.abc import Mapping

_SF_INTEGER = re.compile(rb"-?[0-9]{1,15}")
_SF_DECIMAL = re.compile(rb"-?[0-9]{1,12}\.[0-9]{1,3}")
_FLOAT = re.compile(rb"-?[0-9]+\.[0-9]+(e[+-]?[0-9]+)?")
_TOKEN = re.compile(rb"[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*")


def _core(name: str) -> Any:
    return getattr(core, name, None)


def decode_value(type_name: str, raw: bytes) -> Value:
    """Decode ``raw`` as a value of AO type ``type_name`` (``integer``, ``float``, ``atom``, ...).

    Raises:
        DecodeError: an unknown type, or ``raw`` is not a value of that type.
    """
    real = _core("decode_value")
    if real is not None:
        value: Value = real(type_name, raw)
        return value
    return _local_decode_value(type_name, raw)


def _local_decode_value(type_name: str, raw: bytes) -> Value:
    text = raw.strip()
    if type_name == "integer":
        if _SF_INTEGER.fullmatch(text):
            return int(text)
        raise DecodeError(f"not an integer: {raw[:40]!r}")
    if type_name == "float":
        if _FLOAT.fullmatch(text.lower()) or _SF_DECIMAL.fullmatch(text):
            return float(text)
        raise DecodeError(f"not a float (a decimal point is required): {raw[:40]!r}")
    if type_name == "atom":
        if len(text) >= 2 and text[:1] == b'"' and text[-1:] == b'"':
            text = text[1:-1]
        elif not _TOKEN.fullmatch(text):
            raise DecodeError(f"not an atom: {raw[:40]!r}")
        name = text.decode("utf-8", "replace")
        return {"true": True, "false": False}.get(name, Atom(name))
    raise DecodeError(f"unexpected type {type_name!r}")


def decode_ao_types(raw: bytes) -> dict[str, str]:
    """Parse an ``ao-types`` dictionary (``n="integer", list=list``) into key → type name.

    Raises:
        DecodeError: a member is not ``key=type``.
    """
    real = _core("decode_ao_types")
    if real is not None:
        parsed: Mapping[str, Any] = real(raw)
        return {str(k): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in parsed.items()}
    out: dict[str, str] = {}
    for member in raw.split(b","):
        member = member.strip()
        if not member:
            continue
        key, eq, value = member.partition(b"=")
        if not eq or not key:
            raise DecodeError(f"ao-types member is not key=type: {member[:40]!r}")
        value = value.strip()
        if len(value) >= 2 and value[:1] == b'"' and value[-1:] == b'"':
            value = value[1:-1]
        out[unquote_to_bytes(key.strip()).decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return out


def hashpath(base: Value, req: Message) -> str | None:
    """The hashpath linking a result to ``(base, req)``; ``None`` while the codecs lack it."""
    real = _core("hashpath")
    if real is None:
        return None
    try:
        result: str = real(base, req)
    except core.CoreError:
        return None
    return result


def message_ids(msg: Message) -> list[str]:
    """Every id the message is known by (unsigned id first, then signed/committed ids)."""
    real = _core("message_id")
    if real is None:
        return []
    ids: list[str] = []
    for mode in ("none", "all"):
        try:
            ident = real(msg, mode)
        except core.CoreError:
            continue
        if isinstance(ident, str) and ident not in ids:
            ids.append(ident)
    commitments = msg.get_message("commitments")
    if commitments is not None:
        ids.extend(k for k in commitments if k not in ids)
    return ids


def signing_available() -> bool:
    """True once the codec layer can commit and verify messages."""
    return _core("commit") is not None and _core("verify") is not None


# -- request decoding, verification, reply signing and encoding ----------------------------------

Headers = tuple[tuple[str, str], ...]


def decode_request(codec: str, headers: Headers, body: bytes) -> Message:
    """The request message of an HTTP request whose body is in ``codec``.

    Raises:
        CoreError: the body or signature headers are malformed (the edge answers 400).
        Unsupported: no decoder for ``codec`` is available on this node.
    """
    if codec == "httpsig@1.0":
        real = _core("httpsig_decode")
        if real is not None:
            msg: Message = real(headers, body)
            return msg
        fields: dict[str, Any] = {name: value.encode("latin-1") for name, value in headers}
        if body:
            fields["body"] = body
        return Message(fields)
    if codec == "json@1.0":
        real = _core("json_decode")
        if real is not None:
            decoded: Message = real(body)
            return decoded
        raise Unsupported("json@1.0 request bodies are not supported by this node yet")
    if codec == "ans104@1.0":
        real = _core("ans104_decode") or _core("ans104_to_message")
        if real is not None:
            item: Message = real(body)
            return item
        raise Unsupported("ans104@1.0 request bodies are not supported by this node yet")
    raise Unsupported(f"unknown request codec {codec!r}")


class Unsupported(core.CoreError):
    """The node has no codec for this (415)."""

    status_hint = 415


def verify_request(msg: Message) -> tuple[str, ...]:
    """Verify every commitment of a request; return the verified signers' addresses.

    A message without commitments is unsigned (``()``). While the codec layer cannot verify,
    signature-shaped data is never trusted: the request counts as unsigned.

    Raises:
        SignatureInvalid: a commitment does not verify (the reason names it).
    """
    commitments = msg.get_message("commitments")
    real = _core("verify")
    if commitments is None or real is None:
        return ()
    report = real(msg)
    if not getattr(report, "valid", False):
        failing = getattr(report, "failed", None) or getattr(report, "reason", None) or "a commitment"
        raise core.SignatureInvalid(f"commitment does not verify: {failing}")
    committers = getattr(report, "committers", ())
    return tuple(str(c) for c in committers)


def only_committed(msg: Message) -> Message:
    """The message restricted to its committed keys, when the codec layer can tell (spec D22)."""
    real = _core("with_only_committed")
    if real is None:
        return msg
    restricted: Message = real(msg)
    return restricted


def sign_reply(msg: Message, wallet: core.RsaWallet, hashpath: str | None) -> Message:
    """``msg`` committed by the node wallet with ``tag = hashpath``; unchanged (unsigned) while the
    codec layer has no ``commit``."""
    real = _core("commit")
    if real is None:
        return msg
    signed: Message = real(msg, wallet, tag=hashpath) if hashpath else real(msg, wallet)
    return signed


def encode_reply(msg: Message, codec: str, *, bundle: bool) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of a reply in ``codec`` (``httpsig@1.0`` or ``json@1.0``)."""
    if codec == "json@1.0":
        real = _core("json_encode")
        body = real(msg) if real is not None else _json_bytes(msg)
        return [("codec-device", "json@1.0"), ("content-type", "application/json")], body
    real = _core("httpsig_encode")
    if real is not None:
        parts = real(msg, bundle=bundle)
        return [(str(k), str(v)) for k, v in parts.headers], bytes(parts.body)
    # Without the httpsig codec: a bare value goes out as the raw body, anything else as JSON.
    body_value = msg.get("body")
    if msg.get("ao-result") == b"body" and isinstance(body_value, bytes):
        return [("ao-result", "body")], body_value
    return [("content-type", "application/json")], _json_bytes(msg)


def _jsonable(value: Value) -> Any:
    if isinstance(value, Message):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"$b64": core.b64_encode(value)}
    if isinstance(value, Atom):
        return value.name
    if isinstance(value, core.Link):
        return {"$link": value.id}
    return value


def _json_bytes(msg: Message) -> bytes:
    import json

    return json.dumps(_jsonable(msg), separators=(",", ":"), sort_keys=True).encode("utf-8")


def json_body(value: Mapping[str, Any]) -> bytes:
    """A plain JSON object as bytes (error bodies)."""
    import json

    return json.dumps(dict(value), separators=(",", ":")).encode("utf-8")
