"""Event envelopes: what a frame carries verifies on its own (json_decode + verify)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from devices.core import Message, commit, json_decode, message_id, verify
from node._evmsg import (
    Event,
    check_event,
    decode_event_json,
    event_body,
    event_frame,
    event_message,
    sign_event,
)
from node._suberrors import EventInvalid

from ._support import PID, body, results, wallet

if TYPE_CHECKING:
    from pathlib import Path


def test_frame_message_saved_to_a_file_verifies(tmp_path: Path) -> None:
    event = results()[7]
    frame = json.loads(event_frame("s1", event))
    assert (frame["type"], frame["sub"], frame["kind"], frame["process"], frame["slot"]) == (
        "event",
        "s1",
        "result",
        PID,
        7,
    )
    path = tmp_path / "event.json"
    path.write_text(json.dumps(frame["message"], indent=2))
    msg = json_decode(path.read_bytes())  # exactly what `hyperpeer verify FILE` does
    report = verify(msg)
    assert report.valid
    assert report.committers == [wallet().address]
    assert message_id(msg) == message_id(event.message)
    assert event_body(msg) == body(7)
    check_event(msg, kind="results", process=PID, slot=7, committer=wallet().address)


def test_hyperpeer_verify_accepts_frames_and_their_messages(tmp_path: Path) -> None:
    from node._verify import verify_path

    frame = json.loads(event_frame("s1", results()[9]))
    whole, message = tmp_path / "frame.json", tmp_path / "message.json"
    whole.write_text(json.dumps(frame))
    message.write_text(json.dumps(frame["message"]))
    for path in (whole, message):
        out = verify_path(path)
        assert out["valid"], out
        assert out["committers"] == [wallet().address]
    frame["message"]["slot"] = 10
    message.write_text(json.dumps(frame["message"]))
    assert not verify_path(message)["valid"]


def test_tampered_or_mismatched_events_are_rejected() -> None:
    event = results()[3]
    msg = decode_event_json(event.message_json())
    with pytest.raises(EventInvalid, match="does not verify"):
        check_event(msg.set("slot", 4))
    with pytest.raises(EventInvalid, match="slot"):
        check_event(msg, slot=4)
    with pytest.raises(EventInvalid, match="process"):
        check_event(msg, process="someone-else")
    with pytest.raises(EventInvalid, match="not 'assignment'"):
        check_event(msg, kind="assignment")
    with pytest.raises(EventInvalid, match="not signed by"):
        check_event(msg, committer="x" * 43)
    with pytest.raises(EventInvalid, match="not signed"):
        check_event(event_message("result", PID, body(1), slot=1))
    with pytest.raises(EventInvalid, match="does not decode"):
        decode_event_json(b"[1,2")


def test_nested_signed_body_keeps_its_own_signature() -> None:
    inner = commit(Message({"Target": PID, "Data": "hello", "Slot": 5}), wallet())
    event = sign_event(wallet(), "assignment", PID, inner, slot=5)
    msg = json_decode(event.message_json())
    assert verify(msg).valid
    assert verify(event_body(msg)).valid
    assert event_body(msg) == inner


def test_binary_bodies_travel_as_httpsig_and_still_verify() -> None:
    raw = Message({"data": b"\xff\x00\xfe binary", "kind": "wasm-output"})
    event = sign_event(wallet(), "result", PID, raw, slot=0)
    assert "body-httpsig" in event.message
    assert "body" not in event.message
    msg = json_decode(event.message_json())
    assert check_event(msg, slot=0).valid
    assert event_body(msg) == raw


def test_event_routing_fields_are_validated() -> None:
    with pytest.raises(EventInvalid, match="names its slot"):
        Event("result", PID, None, Message())
    with pytest.raises(EventInvalid, match="non-negative"):
        Event("assignment", PID, -1, Message())
    with pytest.raises(EventInvalid, match="unknown event kind"):
        Event("bogus", PID, 1, Message())  # type: ignore[arg-type]
    with pytest.raises(EventInvalid, match="process"):
        Event("attestation", "", None, Message())
    with pytest.raises(EventInvalid, match="no body"):
        event_body(Message({"event": "result"}))
