"""Event messages: the signed envelope every subscription event travels in (sans-io, no trio).

An *event* is one of three kinds, each about one process:

* ``result``      — process ``P`` computed slot ``N``; ``body`` is the result message;
* ``assignment``  — process ``P`` assigned slot ``N``; ``body`` is the assignment message;
* ``attestation`` — ``attester`` attests something about ``P`` (``slot`` when it names one);
  ``body`` is the attestation payload.

The node wraps the body in an envelope and signs it (``commit``, RSA-PSS by the node wallet)::

    event: "result" | "assignment" | "attestation"
    process: <process id>
    slot: <integer>                  (results and assignments; attestations when they name one)
    attester: <address>              (attestations)
    body: <the message itself>       (nested, with its own commitments)

When the body holds binaries ``json@1.0`` cannot carry (non-UTF-8 bytes), the envelope carries
``body-httpsig`` instead: the standard base64 of the body's ``httpsig@1.0`` form written as an
HTTP header block (``name: value`` lines, CRLF, a blank line, then the body bytes).

On the wire (websocket frames) the envelope is in ``json@1.0`` form, commitments included, so
``json_decode`` + ``verify`` on a frame's ``message`` succeeds on its own (``check_event``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal, final

from devices.core import (
    CoreError,
    EncodeError,
    Message,
    RsaWallet,
    VerifyReport,
    b64_decode,
    b64_encode,
    commit,
    httpsig_decode,
    httpsig_encode,
    json_decode,
    json_encode,
    verify,
)

from ._suberrors import EventInvalid

EventKind = Literal["result", "assignment", "attestation"]
EVENT_KINDS: tuple[EventKind, ...] = ("result", "assignment", "attestation")
ORDERED_KINDS: frozenset[str] = frozenset({"result", "assignment"})
KIND_NAMES: dict[str, EventKind] = {
    "result": "result",
    "results": "result",
    "assignment": "assignment",
    "assignments": "assignment",
    "attestation": "attestation",
    "attestations": "attestation",
}


@final
@dataclass(frozen=True, slots=True, eq=False)
class Event:
    """One published event: routing fields plus the node-signed envelope ``message``."""

    kind: EventKind
    process: str
    slot: int | None
    message: Message
    attester: str | None = None
    _json: list[bytes] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise EventInvalid(f"unknown event kind {self.kind!r}")
        if not self.process:
            raise EventInvalid("an event names its process")
        if self.slot is not None and (isinstance(self.slot, bool) or self.slot < 0):
            raise EventInvalid(f"slot must be a non-negative integer, got {self.slot!r}")
        if self.kind in ORDERED_KINDS and self.slot is None:
            raise EventInvalid(f"a {self.kind} event names its slot")

    @property
    def key(self) -> tuple[int | None, str | None]:
        """Identity for de-duplication: the slot (and the attester for attestations)."""
        return (self.slot, self.attester)

    def message_json(self) -> bytes:
        """The envelope's ``json@1.0`` text, encoded once and cached (fan-out shares it)."""
        if not self._json:
            self._json.append(json_encode(self.message))
        return self._json[0]


def event_message(
    kind: EventKind, process: str, body: Message, *, slot: int | None = None, attester: str | None = None
) -> Message:
    """The unsigned envelope for ``body`` (see the module docstring)."""
    fields: dict[str, object] = {"event": kind, "process": process}
    if slot is not None:
        fields["slot"] = slot
    if attester is not None:
        fields["attester"] = attester
    try:
        json_encode(body)
    except EncodeError:
        fields["body-httpsig"] = b64_encode(_http_block(body))
    else:
        fields["body"] = body
    return Message(fields)


def sign_event(
    wallet: RsaWallet,
    kind: EventKind,
    process: str,
    body: Message,
    *,
    slot: int | None = None,
    attester: str | None = None,
) -> Event:
    """Build and sign (RSA-PSS, ~5-15 ms for a 2048-4096-bit key) the event for ``body``.

    CPU-bound: from a trio task call it through ``trio.to_thread.run_sync``.

    Raises:
        EventInvalid: bad routing fields (kind, slot).
    """
    Event(kind, process, slot, Message(), attester)  # validate before paying for the signature
    signed = commit(event_message(kind, process, body, slot=slot, attester=attester), wallet)
    return Event(kind, process, slot, signed, attester)


def event_body(message: Message) -> Message:
    """The body of an envelope, decoding the ``body-httpsig`` fallback.

    Raises:
        EventInvalid: no body, or a body that does not decode.
    """
    body = message.get("body")
    if isinstance(body, Message):
        return body
    packed = message.get("body-httpsig")
    if isinstance(packed, bytes):
        try:
            return _from_http_block(b64_decode(packed))
        except CoreError as exc:
            raise EventInvalid(f"body-httpsig does not decode: {exc}") from exc
    raise EventInvalid("the event has no body")


def check_event(
    message: Message,
    *,
    kind: str | None = None,
    process: str | None = None,
    slot: int | None = None,
    committer: str | None = None,
) -> VerifyReport:
    """Verify an envelope on its own: every commitment valid, at least one signature, and the
    envelope's fields equal to what the frame claimed (``None`` = not checked).

    Raises:
        EventInvalid: naming the first problem found.
    """
    report = verify(message)
    if not report.valid:
        bad = report.failed[0]
        raise EventInvalid(f"commitment {bad.id} ({bad.type}) does not verify: {bad.reason}")
    if not report.committers:
        raise EventInvalid("the event is not signed")
    if committer is not None and committer not in report.committers:
        raise EventInvalid(f"the event is not signed by {committer}")
    if kind is not None and message.get_text("event") != KIND_NAMES.get(kind, kind):
        raise EventInvalid(f"the envelope is a {message.get_text('event')!r} event, not {kind!r}")
    if process is not None and message.get_text("process") != process:
        raise EventInvalid(f"the envelope names process {message.get_text('process')!r}")
    if slot is not None and message.get("slot") != slot:
        raise EventInvalid(f"the envelope names slot {message.get('slot')!r}, not {slot}")
    return report


def decode_event_json(data: bytes | str) -> Message:
    """A frame's ``message`` (JSON text) back to the envelope; raises EventInvalid."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        return json_decode(raw)
    except CoreError as exc:
        raise EventInvalid(f"the event message does not decode: {exc}") from exc


# -- frames (server → client) -------------------------------------------------------------------


def event_frame(sub: str, event: Event) -> str:
    """``{"type":"event","sub","kind","process","slot"[,"attester"],"message"}`` as text."""
    head = {"type": "event", "sub": sub, "kind": event.kind, "process": event.process, "slot": event.slot}
    if event.attester is not None:
        head["attester"] = event.attester
    text = json.dumps(head, separators=(",", ":"))
    return text[:-1] + ',"message":' + event.message_json().decode("utf-8") + "}"


def error_frame(reason: str, sub: str | None = None) -> str:
    frame: dict[str, object] = {"type": "error", "error": reason}
    if sub is not None:
        frame["sub"] = sub
    return json.dumps(frame, separators=(",", ":"))


def closed_frame(sub: str | None, reason: str, resume_from: int | None) -> str:
    frame: dict[str, object] = {"type": "closed", "reason": reason, "resume_from": resume_from}
    if sub is not None:
        frame["sub"] = sub
    return json.dumps(frame, separators=(",", ":"))


def subscribed_frame(sub: str, kind: EventKind, process: str | None, start: int | None) -> str:
    frame = {"type": "subscribed", "sub": sub, "kind": kind, "process": process, "from": start}
    return json.dumps(frame, separators=(",", ":"))


# -- the binary fallback ------------------------------------------------------------------------


def _http_block(body: Message) -> bytes:
    parts = httpsig_encode(body)
    head = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in parts.headers)
    return head + b"\r\n" + parts.body


def _from_http_block(block: bytes) -> Message:
    if block.startswith(b"\r\n"):
        head, data = b"", block[2:]
    else:
        head, sep, data = block.partition(b"\r\n\r\n")
        if not sep:
            raise EventInvalid("body-httpsig has no header block")
    headers: list[tuple[str, bytes]] = []
    for line in head.split(b"\r\n") if head else []:
        name, colon, value = line.partition(b": ")
        if not colon:
            raise EventInvalid(f"body-httpsig header line without ': ': {line[:40]!r}")
        headers.append((name.decode("latin-1"), value))
    return httpsig_decode(headers, data)
