"""``hyperpeer verify FILE...``: classify a file, verify it, describe the outcome as one JSON line.

Kinds handled (first match wins):

1. an HTTP request or response dump → ``httpsig@1.0`` message;
2. a JSON object with ``commitments`` (``json@1.0``), or a websocket event frame carrying one;
   a message of ``type: attestation/1`` is a result attestation in AO-Core form
   (``attest.verify_attestation_message``) and reports its ``facts`` like the CBOR form;
3. a binary ANS-104 data item, then a binary ANS-104 bundle;
4. anything else goes to ``attest.verify_file``: result attestations (single or batched with a
   proof), SEV-SNP reports (raw 1184 bytes, hex, HyperBEAM JSON) and evidence files.

Every outcome has ``file, kind, valid, id, committers, error``; bad input never raises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import attest
from devices.core import (
    CoreError,
    Message,
    httpsig_decode,
    json_decode,
    message_id,
    verify,
)
from devices.core.ans104 import DataItem, parse_bundle

MAX_FILE_BYTES = 64 * 1024 * 1024
_HTTP_START = re.compile(rb"^(?:[A-Z]+ \S+ HTTP/\d(?:\.\d)?|HTTP/\d(?:\.\d)? \d{3}[^\r\n]*)\r?\n")


@dataclass(frozen=True)
class VerifyOptions:
    vcek: Path | None = None
    certs: tuple[Path, ...] = ()
    nonce: bytes | None = None


def _outcome(path: Path, kind: str) -> dict[str, Any]:
    return {"file": str(path), "kind": kind, "valid": False, "id": None, "committers": [], "error": None}


def _split_http(data: bytes) -> tuple[list[tuple[str, str]], bytes]:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()[1:]
    headers: list[tuple[str, str]] = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise CoreError(f"malformed header line: {line[:60]!r}")
        headers.append((name.strip().lower(), value.strip()))
    return headers, body


def _attestation_outcome(out: dict[str, Any], msg: Message) -> dict[str, Any]:
    """An AO-Core result attestation: the same fields and ``facts`` as its CBOR form."""
    out["encoding"] = out["kind"]
    out["kind"] = attest.MESSAGE_KIND
    try:
        report = attest.verify_attestation_message(msg)
    except attest.AttestError as exc:
        out.update(error=str(exc), check="malformed")
        return out
    out.update(valid=report.valid, id=report.id, committers=list(report.committers),
               error=report.error, facts=report.facts)
    if not report.valid:
        out["check"] = report.check
    return out


def _message_outcome(out: dict[str, Any], msg: Message) -> dict[str, Any]:
    if attest.is_attestation_message(msg):
        return _attestation_outcome(out, msg)
    report = verify(msg)
    out["valid"] = report.valid
    out["id"] = message_id(msg)
    out["committers"] = report.committers
    if not report.valid:
        failed = ", ".join(f"{c.id}: {c.reason}" for c in report.failed)
        out["error"] = f"commitment does not verify: {failed}"
    elif not report.checks:
        out["valid"] = False
        out["error"] = "message carries no commitments"
    return out


def _json_message(data: bytes) -> Message | None:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(obj, dict) and isinstance(obj.get("message"), dict) and obj.get("type") == "event":
        obj = obj["message"]
    if isinstance(obj, dict) and "commitments" in obj:
        return json_decode(json.dumps(obj).encode("utf-8"))
    return None


def _bundle(path: Path, data: bytes) -> dict[str, Any] | None:
    try:
        bundle = parse_bundle(data)
    except CoreError:
        return None
    out = _outcome(path, "ans104-bundle")
    checks = bundle.check()
    bad = [c for c in checks if not c.ok]
    out["valid"] = not bad and len(checks) > 0
    out["members"] = [c.id for c in checks]
    out["committers"] = sorted({bundle.member(c.index).owner_address for c in checks if c.ok})
    if bad:
        out["error"] = "; ".join(f"member {c.index}: {c.reason}" for c in bad)
    elif not checks:
        out["error"] = "bundle has no members"
    return out


def _item(path: Path, data: bytes) -> dict[str, Any] | None:
    try:
        item = DataItem.parse(data)
    except CoreError:
        return None
    out = _outcome(path, "ans104-item")
    problem = item.verify_problem()
    out.update(valid=problem is None, id=item.id, committers=[item.owner_address], error=problem)
    return out


def _ans104(path: Path, data: bytes) -> dict[str, Any] | None:
    """A bundle's header sums its member sizes exactly, so try it before the looser item form."""
    return _bundle(path, data) or _item(path, data)


def verify_path(path: Path, options: VerifyOptions | None = None) -> dict[str, Any]:
    """Verify one file; never raises for bad input."""
    opts = options or VerifyOptions()
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        out = _outcome(path, "unreadable")
        out["error"] = f"cannot read file: {exc.strerror or exc}"
        return out
    if len(data) > MAX_FILE_BYTES:
        out = _outcome(path, "oversize")
        out["error"] = f"file is larger than {MAX_FILE_BYTES} bytes"
        return out
    try:
        if _HTTP_START.match(data):
            headers, body = _split_http(data)
            return _message_outcome(_outcome(path, "httpsig"), httpsig_decode(headers, body))
        if data.lstrip()[:1] == b"{":
            msg = _json_message(data)
            if msg is not None:
                return _message_outcome(_outcome(path, "json"), msg)
        else:
            found = _ans104(path, data)
            if found is not None:
                return found
    except CoreError as exc:
        out = _outcome(path, "message")
        out["error"] = str(exc)
        return out
    return attest.verify_file(path, vcek=opts.vcek, certs=opts.certs, nonce=opts.nonce)


def add_verify_parser(sub: Any) -> None:
    """Register ``hyperpeer verify FILE...``."""
    p = sub.add_parser(
        "verify",
        help="verify ANS-104 items/bundles, httpsig or JSON messages, attestations and SNP evidence",
    )
    p.add_argument("files", nargs="+", type=Path, help="files to verify")
    p.add_argument("--vcek", type=Path, help="VCEK certificate (DER or PEM) for SNP reports")
    p.add_argument("--certs", type=Path, action="append", default=[],
                   help="ARK/ASK bundle or directory (repeatable)")
    p.add_argument("--nonce", help="expected SNP report_data as hex")
    p.set_defaults(run=run_verify)


def run_verify(args: Any) -> int:
    """Print one JSON line per file; 0 when all are valid, 1 otherwise."""
    import sys

    try:
        nonce = bytes.fromhex(args.nonce) if args.nonce else None
    except ValueError:
        sys.stderr.write("hyperpeer verify: --nonce must be hex\n")
        return 2
    opts = VerifyOptions(vcek=args.vcek, certs=tuple(args.certs), nonce=nonce)
    all_valid = True
    for path in args.files:
        out = verify_path(path, opts)
        all_valid = all_valid and bool(out.get("valid"))
        sys.stdout.write(json.dumps(out, default=str) + "\n")
    sys.stdout.flush()
    return 0 if all_valid else 1
