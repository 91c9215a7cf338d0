"""aos-2 driven through ``handle`` (JSON-Iface conventions) on the translated images."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from devices.wasm import (
    AosError,
    AosProcess,
    WasmInstanceDead,
    WasmLimitExceeded,
    WasmLimits,
    WasmModule,
    WasmRuntime,
    WasmSnapshot,
    compact_json,
    json_iface_results,
    json_struct,
)
from tests.wasm.conftest import read_vector

PROCESS = {"id": "AOS", "owner": "FOOBAR", "original-tags": [("Name", "Thomas"), ("Authority", "FOOBAR")]}
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def aos(runtime: WasmRuntime) -> WasmModule:
    return runtime.load(read_vector("aos-2-pure-xs.wasm"))


@pytest.fixture
def proc(runtime: WasmRuntime, aos: WasmModule) -> AosProcess:
    return AosProcess.spawn(runtime, aos, PROCESS)


def message(action: str, data: str = "", **tags: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": f"msg-{next(_ids)}", "owner": "FOOBAR", "target": "AOS", "data": data}
    fields["action"] = action
    fields.update(tags)
    return fields


def output(response: dict[str, Any]) -> Any:
    out = response.get("Output")
    return out.get("data") if isinstance(out, dict) else out


def test_j1_exact_hyperbeam_inputs(proc: AosProcess) -> None:
    env = (
        b'{"Process":{"Id":"AOS","Owner":"FOOBAR","Tags":[{"name":"Name","value":"Thomas"},'
        b'{"name":"Authority","value":"FOOBAR"}]}}'
    )
    msg = (
        b'{"From":"FOOBAR","Block-Height":"1","Target":"AOS","Owner":"FOOBAR","Id":"1","Module":"W",'
        b'"Tags":[{"name":"Action","value":"Eval"}],"Data":"return 1 + 1"}'
    )
    result = proc.handle_raw(msg, env)
    assert result["ok"] is True
    assert result["response"]["Output"]["data"] == "2"


def test_eval_and_state(proc: AosProcess) -> None:
    first = proc.handle(message("Eval", "return 1+1"), block_height=1)
    assert output(first) == "2"
    assert first["Messages"] == []
    assert first["Spawns"] == []
    assert first["Assignments"] == []
    assert output(proc.handle(message("Eval", "X = 42"))) == ""
    assert output(proc.handle(message("Eval", "return X"))) == "42"


def test_handler_added_by_eval_runs_later(proc: AosProcess) -> None:
    code = "Handlers.add('ping', 'Ping', function(msg) msg.reply({Data = 'pong ' .. msg.Data}) end)"
    assert "Error" not in proc.handle(message("Eval", code))
    reply = proc.handle(message("Ping", "hi"))
    assert [m["Data"] for m in reply["Messages"]] == ["pong hi"]
    assert reply["Messages"][0]["Target"] == "FOOBAR"
    # replacing the handler changes behaviour
    proc.handle(message("Eval", "Handlers.add('ping', 'Ping', function(msg) msg.reply({Data = 'v2'}) end)"))
    assert [m["Data"] for m in proc.handle(message("Ping"))["Messages"]] == ["v2"]


def test_send_produces_outbox_messages(proc: AosProcess) -> None:
    response = proc.handle(message("Eval", "Send({Target = 'AOS', Action = 'State', Data = 'hello'})"))
    (sent,) = response["Messages"]
    assert sent["Target"] == "AOS"
    assert sent["Data"] == "hello"
    assert sent["Anchor"] == "00000000000000000000000000000001"
    tags = {t["name"]: t["value"] for t in sent["Tags"]}
    assert tags["Action"] == "State"
    assert tags["Data-Protocol"] == "ao"
    assert tags["Type"] == "Message"


def test_error_comes_back_without_corrupting_state(proc: AosProcess) -> None:
    proc.handle(message("Eval", "X = 7"))
    failed = proc.handle(message("Eval", "error('boom')"))
    assert "boom" in failed["Error"]
    assert "Output" not in failed or not output(failed)
    assert output(proc.handle(message("Eval", "return X * 6"))) == "42"
    assert proc.instance.alive


def test_snapshot_restore_bit_identical(proc: AosProcess, aos: WasmModule) -> None:
    script = [
        "X = 1",
        "Big = string.rep('ab', 4 * 1024 * 1024)",  # grows memory past the initial 192 pages
        "X = X + #Big",
        "error('half-way')",
        "Send({Target = 'AOS', Data = tostring(X)})",
        "return X",
        "T = {} for i = 1, 1000 do T[i] = i * i end return #T",
        "return X + T[10]",
    ]
    msgs = [message("Eval", code) for code in script]
    straight = [proc.handle(m) for m in msgs]

    first = AosProcess.spawn(proc.instance.module.runtime, aos, PROCESS)
    for m in msgs[:4]:
        first.handle(m)
    snap = WasmSnapshot.decode(first.snapshot().encode())
    assert snap.pages > 192
    resumed = AosProcess.from_snapshot(aos, PROCESS, snap)
    rest = [resumed.handle(m) for m in msgs[4:]]
    assert [compact_json(r) for r in rest] == [compact_json(r) for r in straight[4:]]
    assert output(rest[-1]) == str(1 + 8 * 1024 * 1024 + 100)
    assert resumed.snapshot().digest() == proc.snapshot().digest()


def test_restore_replaces_instance(proc: AosProcess) -> None:
    proc.handle(message("Eval", "Y = 'before'"))
    snap = proc.snapshot()
    proc.handle(message("Eval", "Y = 'after'"))
    proc.restore(snap)
    assert output(proc.handle(message("Eval", "return Y"))) == "before"


def test_infinite_loop_is_stopped_by_fuel(runtime: WasmRuntime, aos: WasmModule) -> None:
    proc = AosProcess.spawn(runtime, aos, PROCESS, limits=WasmLimits(fuel=300_000_000))
    proc.handle(message("Eval", "Z = 5"))
    snap = proc.snapshot()
    with pytest.raises(WasmLimitExceeded, match="fuel"):
        proc.handle(message("Eval", "while true do end"))
    with pytest.raises(WasmInstanceDead):
        proc.handle(message("Eval", "return Z"))
    proc.restore(snap)
    assert output(proc.handle(message("Eval", "return Z"))) == "5"


def test_memory_cap_is_reported_by_lua(runtime: WasmRuntime, aos: WasmModule) -> None:
    proc = AosProcess.spawn(runtime, aos, PROCESS, limits=WasmLimits(memory_bytes=32 << 20))
    response = proc.handle(message("Eval", "Big = string.rep('x', 64 * 1024 * 1024) return #Big"))
    assert "memory" in response["Error"]
    assert proc.instance.grow_failures >= 1
    assert proc.instance.memory_size <= 32 << 20
    assert output(proc.handle(message("Eval", "return 2 + 2"))) == "4"


def test_big_image(runtime: WasmRuntime) -> None:
    proc = AosProcess.spawn(runtime, read_vector("aos-2-pure.wasm"), PROCESS)  # 96 MiB initial memory
    assert output(proc.handle(message("Eval", "return 6*7"))) == "42"


def test_wex_test_image_answers(runtime: WasmRuntime) -> None:
    # HyperBEAM's test-standalone-wex-aos is a dummy process that answers every message the same way
    proc = AosProcess.spawn(runtime, read_vector("test-standalone-wex-aos.wasm"), PROCESS)
    assert proc.handle(message("Eval", "return 6*7"))["Output"] == "sent pong reply"


def test_bad_result_raises_aos_error(proc: AosProcess) -> None:
    with pytest.raises(AosError):
        proc.handle({"owner": "FOOBAR"})  # no id


def test_json_struct_fields() -> None:
    sig = bytes(range(256)) * 2
    struct = json_struct(
        {
            "id": "ID1",
            "owner": "OWN",
            "target": "PID",
            "data": b"payload",
            "data-protocol": "ao",
            "action": "Eval",
            "signature": sig,
            "commitments": {"x": 1},
        }
    )
    assert struct["From"] == "OWN"
    assert struct["Anchor"] == ""
    assert struct["Data"] == "payload"
    assert struct["Tags"] == [
        {"name": "Action", "value": "Eval"},
        {"name": "Data-Protocol", "value": "ao"},
    ]
    assert len(struct["Signature"]) == 683
    assert "=" not in struct["Signature"]
    forwarded = json_struct({"id": "I", "owner": "O", "from-process": "P", "original-tags": [("B", "2")]})
    assert forwarded["From"] == "P"
    assert forwarded["Tags"] == [{"name": "B", "value": "2"}]
    assert compact_json({"b": "é", "a": 1}) == '{"a":1,"b":"é"}'.encode()
    with pytest.raises(AosError):
        json_struct({"id": "I", "data": b"\xff\xfe"})


def test_json_iface_results_layout(proc: AosProcess) -> None:
    sent = proc.handle(message("Eval", "Send({Target = ao.id, Action = 'State', Data = 'hello'})"))
    results = json_iface_results(sent, process_id="PID", image_id="IMG")
    entry = results["outbox"]["1"]
    assert entry["data"] == "hello"
    assert entry["target"] == "AOS"
    assert entry["Action"] == "State"
    assert entry["Reference"] == "1"
    assert entry["from-process"] == "PID"
    assert entry["from-image"] == "IMG"
    assert "anchor" in entry  # kept, as HyperBEAM does
    assert isinstance(entry["tags"], list)
    assert results["patches"] == []

    patched = proc.handle(
        message("Eval", "table.insert(ao.outbox.Messages, {method = 'PATCH', x = 'banana'})")
    )
    patch = json_iface_results(patched, process_id="PID", image_id="IMG")["outbox"]["1"]
    assert (patch["x"], patch["method"]) == ("banana", "PATCH")

    two = json_iface_results(proc.handle(message("Eval", "return 1+1")), process_id="P", image_id="I")
    assert two == {"outbox": {}, "patches": [], "data": "2"}
    failed = json_iface_results(proc.handle(message("Eval", "error('boom')")), process_id="P", image_id="I")
    assert "boom" in failed["data"]
    assert failed["outbox"] == {}
    with pytest.raises(AosError, match="JSON error"):
        json_iface_results({"Output": "text only"}, process_id="P", image_id="I")
