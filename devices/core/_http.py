"""The ``httpsig@1.0`` field layout: TABM ↔ an HTTP field map (headers plus ``body``), byte-exact.

Encoding (HyperBEAM ``dev_codec_httpsig_conv:to``):

1. ID-shaped keys (32/42/43 bytes) with byte-string values go into ``ao-ids`` (SF dictionary).
2. ``commitments``, ``signature``, ``signature-input`` and private keys are dropped (signatures
   are added by the caller from the commitments).
3. The inline key is ``ao-body-key`` if present, else ``body`` if present, else ``data`` (adding
   the header ``ao-body-key: data``), else ``body``.
4. ``body``, the inline key, nested maps and byte strings over 4096 bytes go to the body map;
   other byte strings are headers.
5. The body map is grouped into parts (``a``, ``a/b``; big values lifted to their own part; an
   empty map is a part ``ao-types: empty-message``). A nested message's ``commitments`` (only
   bundle mode keeps nested messages) is walked like any map once each commitment is in TABM
   form: ``a/commitments/<id>`` holds its fields, and a ``committed`` list (ANS-104) becomes the
   numbered list part ``a/commitments/<id>/committed`` (``ao-types: .="list"``), as the
   reference's ``group_maps`` does; decoding nests the parts back and ``from_tabm`` restores them.
   One part named after the inline key holding bytes is the raw body; otherwise a
   ``multipart/form-data`` body with parts sorted by name, boundary
   ``b64u(sha256(parts joined by CRLF))``, no preamble and no trailing CRLF.
6. A non-empty body adds ``content-digest: sha-256=:<b64>:``.

Decoding reverses this; ``content-digest``, a multipart ``content-type`` and ``ao-body-key`` are
removed. Field maps are ``dict[str, bytes]`` with the reference's (sorted) key order.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from . import _sf
from ._b64 import b64u_encode
from ._errors import DecodeError, EncodeError, LimitExceeded
from ._message import is_private
from ._structured import is_id_key, sort_key, to_tabm

CRLF = b"\r\n"
MAX_HEADER_LENGTH = 4096
MAX_PARTS = 10_000
_DROP = ("commitments", "signature", "signature-input")


def content_digest(body: bytes) -> bytes:
    return b"sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()) + b":"


def inline_key(fields: Mapping[str, Any]) -> tuple[dict[str, bytes], str]:
    """``(extra headers, inline key)`` as HyperBEAM's ``inline_key/1`` decides them."""
    explicit = fields.get("ao-body-key")
    if isinstance(explicit, bytes):
        return {}, explicit.decode("utf-8", "replace")
    if "body" in fields:
        return {}, "body"
    if "data" in fields:
        return {"ao-body-key": b"data"}, "data"
    return {}, "body"


def _sorted(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in sorted(d, key=sort_key)}


def encode_tabm(tabm: Mapping[str, Any]) -> dict[str, bytes]:
    """TABM → HTTP field map (headers plus an optional ``body``), without signatures."""
    stripped = {k: v for k, v in tabm.items() if k not in _DROP and not is_private(k)}
    ids = {k: v for k, v in stripped.items() if is_id_key(k) and isinstance(v, bytes)}
    for k in ids:
        del stripped[k]
    if ids:
        stripped["ao-ids"] = _sf.ser_dictionary([(k, _sf.Item(ids[k])) for k in sorted(ids, key=sort_key)])
    extra, inline = inline_key(stripped)
    headers: dict[str, bytes] = dict(extra)
    body_map: dict[str, Any] = {}
    for key, value in stripped.items():
        if key == "body" or key == inline or isinstance(value, Mapping):
            body_map[key] = value
        elif not isinstance(value, bytes):
            raise EncodeError(f"key {key!r} holds a {type(value).__name__}, not bytes or a map")
        elif len(value) <= MAX_HEADER_LENGTH:
            headers[key] = value
        else:
            body_map[key] = value
    grouped = _group_maps(body_map, "", {})
    if grouped:
        only = grouped.get(inline)
        if len(grouped) == 1 and isinstance(only, bytes):
            headers["body"] = only
        else:
            boundary, body = _multipart(grouped, inline)
            headers["content-type"] = b'multipart/form-data; boundary="' + boundary + b'"'
            headers["body"] = body
    if headers.get("body"):
        headers["content-digest"] = content_digest(headers["body"])
    elif "body" in headers:
        del headers["body"]
    return _sorted(headers)


def commitments_tabm(commitments: Mapping[str, Any]) -> dict[str, Any]:
    """A nested message's ``commitments`` in TABM form: each commitment through ``to_tabm``
    (bundled), so lists such as an ANS-104 ``committed`` become numbered list messages.

    Raises:
        EncodeError: a commitment value that cannot be represented.
    """
    out: dict[str, Any] = {}
    for cid, commitment in commitments.items():
        out[cid] = to_tabm(commitment, bundle=True) if isinstance(commitment, Mapping) else commitment
    return out


def _group_maps(msg: Mapping[str, Any], parent: str, top: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, bytes] = {}
    for key, value in msg.items():
        path = key if not parent else f"{parent}/{key}"
        if key == "commitments" and isinstance(value, Mapping):
            value = commitments_tabm(value)
        if isinstance(value, Mapping):
            if len(value) == 0:
                top[path] = {"ao-types": b"empty-message"}
            else:
                top = _group_maps(value, path, top)
        elif not isinstance(value, bytes):
            raise EncodeError(f"key {path!r} holds a {type(value).__name__}, not bytes or a map")
        elif len(value) > MAX_HEADER_LENGTH:
            top[path] = value
        else:
            flat[key] = value
    if flat:
        if parent:
            top[parent] = flat
        else:
            top.update(flat)
    return top


def _multipart(parts: Mapping[str, Any], inline: str) -> tuple[bytes, bytes]:
    encoded: list[bytes] = []
    for name in sorted(parts, key=sort_key):
        value = parts[name]
        if isinstance(value, Mapping) and set(value) == {"body"}:
            encoded.append(_encode_part(f"{name}/body", value, "body"))
        else:
            encoded.append(_encode_part(name, value, inline))
    boundary = b64u_encode(hashlib.sha256(CRLF.join(encoded)).digest()).encode("ascii")
    body = CRLF.join(b"--" + boundary + CRLF + part for part in encoded)
    return boundary, body + CRLF + b"--" + boundary + b"--"


def _encode_part(name: str, value: Any, inline: str) -> bytes:
    disposition = b"inline" if name == inline else b'form-data;name="' + name.encode("utf-8") + b'"'
    if isinstance(value, bytes):
        return b"content-disposition: " + disposition + CRLF + CRLF + value
    fields = dict(value)
    fields["content-disposition"] = disposition
    lines = [k.encode("utf-8") + b": " + fields[k] for k in sorted(fields, key=sort_key) if k != "body"]
    head = CRLF.join(lines)
    body = fields.get("body", b"")
    return head + CRLF + CRLF + body if body else head


# -- decoding -------------------------------------------------------------------------------------


def decode_fields(fields: Mapping[str, bytes]) -> tuple[dict[str, Any], list[str]]:
    """HTTP field map → TABM fields (still holding the transport keys, see ``strip_transport``) and
    the body keys (first path segments of the parts, or the inline key for a plain body).

    Raises:
        DecodeError: malformed multipart body, disposition or ``ao-ids``.
    """
    headers = {k: v for k, v in fields.items() if k != "body"}
    body = fields.get("body", b"")
    inline = "body"
    for marker in ("ao-body-key", "inline-body-key"):  # inline-body-key: May 2025 / ao-core-libs
        if isinstance(headers.get(marker), bytes):
            inline = headers[marker].decode("utf-8", "replace")
            break
    body_keys: list[str] = []
    body_tabm: dict[str, Any] = {}
    if body:
        boundary = _boundary(headers.get("content-type"))
        if boundary is None:
            body_keys = [inline]
            body_tabm = {inline: body}
        else:
            named = [_decode_part(p, inline) for p in _split_multipart(body, boundary)]
            body_tabm = unflatten(dict(named))
            for path, _ in named:
                first = path.split("/")[0]
                if first not in body_keys:
                    body_keys.append(first)
    merged: dict[str, Any] = {**headers, **body_tabm}
    if isinstance(merged.get("ao-ids"), bytes):
        for key, member in _sf.parse_dictionary(merged.pop("ao-ids")):
            if not isinstance(member, _sf.Item) or not isinstance(member.value, bytes):
                raise DecodeError("ao-ids values are strings")
            merged[key] = member.value
    return merged, body_keys


def strip_transport(fields: dict[str, Any]) -> dict[str, Any]:
    """Remove what the transport regenerates: digest, multipart type, body-key markers, signatures."""
    out = {
        k: v
        for k, v in fields.items()
        if k
        not in (
            "content-digest",
            "ao-body-key",
            "inline-body-key",
            "body-keys",
            "signature",
            "signature-input",
            "commitments",
        )
    }
    ctype = out.get("content-type")
    if isinstance(ctype, bytes) and ctype.startswith(b"multipart/"):
        del out["content-type"]
    return out


def _boundary(content_type: bytes | None) -> bytes | None:
    if not content_type:
        return None
    try:
        item = _sf.parse_item(content_type)
    except DecodeError:
        return None
    for name, value in item.params:
        if name == "boundary":
            if isinstance(value, bytes | _sf.Token):
                return value if isinstance(value, bytes) else value.value.encode("ascii")
            raise DecodeError("multipart boundary is not a string")
    return None


def _split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    start_pat = b"--" + boundary + CRLF
    end_pat = CRLF + b"--" + boundary + b"--"
    start = body.find(start_pat)
    end = body.find(end_pat)
    if start < 0 or end < 0 or end < start + len(start_pat):
        raise DecodeError("multipart body without its boundaries")
    parts = body[start + len(start_pat) : end].split(CRLF + b"--" + boundary)
    if len(parts) > MAX_PARTS:
        raise LimitExceeded("too many multipart parts")
    return parts


def _decode_part(part: bytes, inline: str) -> tuple[str, Any]:
    head, _, raw_body = part.partition(CRLF + CRLF)
    headers: dict[str, bytes] = {}
    for line in head.split(CRLF):
        field, colon, value = line.partition(b": ")
        if colon and field:
            headers[field.decode("utf-8", "replace")] = value
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise DecodeError("multipart part without content-disposition")
    item = _sf.parse_item(disposition)
    if isinstance(item.value, _sf.Token) and item.value.value == "inline":
        name = inline
    else:
        names = [v for k, v in item.params if k == "name"]
        if not names or not isinstance(names[0], bytes | _sf.Token):
            raise DecodeError("multipart part without a name")
        first = names[0]
        name = (first if isinstance(first, bytes) else first.value.encode()).decode("utf-8", "replace")
    rest = {
        k: v
        for k, v in headers.items()
        if k not in ("content-disposition", "content-type", "ao-body-key", "content-digest")
    }
    if "content-type" in headers and not headers["content-type"].startswith(b"multipart/"):
        rest["content-type"] = headers["content-type"]
    without_types = {k: v for k, v in rest.items() if k != "ao-types"}
    if not without_types and rest.get("ao-types") == b"empty-message" and not raw_body:
        return name, {}
    if not raw_body:
        return name, rest
    if not rest:
        return name, raw_body
    marker = headers.get("ao-body-key")  # upstream would pick `data` here when the part has one
    body_key = marker.decode("utf-8", "replace") if isinstance(marker, bytes) else "body"
    return name, {**rest, body_key: raw_body}


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``flat@1.0`` from: split keys on ``/`` (empty segments dropped) and nest.

    Raises:
        DecodeError: a key is used both as a value and as a map (``path_collision``).
    """
    out: dict[str, Any] = {}
    for path, value in flat.items():
        segments = [s for s in path.split("/") if s]
        if not segments:
            raise DecodeError("empty flat key")
        node = out
        for seg in segments[:-1]:
            child = node.setdefault(seg, {})
            if not isinstance(child, dict):
                raise DecodeError(f"path collision at {path!r}")
            node = child
        last = segments[-1]
        if last in node:
            existing = node[last]
            if isinstance(existing, dict) and isinstance(value, Mapping):
                _deep_merge(existing, value, path)
                continue
            raise DecodeError(f"path collision at {path!r}")
        node[last] = dict(value) if isinstance(value, Mapping) else value
    return out


def _deep_merge(into: dict[str, Any], other: Mapping[str, Any], path: str) -> None:
    for k, v in other.items():
        if k in into:
            if isinstance(into[k], dict) and isinstance(v, Mapping):
                _deep_merge(into[k], v, path)
            else:
                raise DecodeError(f"path collision at {path!r}")
        else:
            into[k] = dict(v) if isinstance(v, Mapping) else v
