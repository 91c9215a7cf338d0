"""Golden vectors pinning the wire format (Ed25519 signatures are deterministic), plus property tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from attest import Statement, sign_attestation, sign_batch, verify_file
from attest._merkle import leaf_hash, merkle_root, merkle_tree_proofs, root_from_proof
from devices.core import Ed25519Key

KEY = Ed25519Key.from_seed(bytes(range(32)))
S1 = Statement(
    process="p1", slot=3, result="r1", hashpath="h1/h2", device_stack=("wasm-64@1.0",), attester=KEY.address
)
S2 = Statement(
    process="p1", slot=4, result="r2", hashpath="h2/h3", device_stack=("wasm-64@1.0",), attester=KEY.address
)


def test_statement_cbor_is_pinned() -> None:
    assert S1.to_cbor().hex() == (
        "a664736c6f740366726573756c746272316770726f63657373627031686174746573746572782b566b64617031526a52"
        "307743686439647679764b747a326d555457494f656d3364494779367245486349776868617368706174686568312f68"
        "326c6465766963652d737461636b816b7761736d2d363440312e30"
    )


def test_signed_forms_are_pinned() -> None:
    single = sign_attestation(S1, KEY)
    assert len(single) == 279
    assert (
        hashlib.sha256(single).hexdigest()
        == "24d0ed7bfffcc35dde91f2cefea35ce6c0b5ddd522e0887abdb51de3b7761f23"
    )
    header, _ = sign_batch([S1, S2], KEY)
    assert header.root.hex() == "8a3be1a7e791c64a4bd113f9fb4f2d9e80c007f96e1bfbd059da10fde36ab27e"
    assert hashlib.sha256(header.encode()).hexdigest() == (
        "aeacd6f8b92fcaaca34672ad09fa46f49d7c8bd212c0049a667506118ca5adc3"
    )


@settings(max_examples=60, derandomize=True, deadline=None)
@given(st.integers(min_value=1, max_value=150), st.data())
def test_merkle_proofs_property(count: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(count)]
    root, paths = merkle_tree_proofs(leaves)
    assert root == merkle_root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=count - 1))
    assert root_from_proof(leaves[index], index, count, paths[index]) == root
    other = data.draw(st.integers(min_value=0, max_value=count - 1))
    if other != index:
        assert root_from_proof(leaves[index], other, count, paths[index]) != root
        assert root_from_proof(leaves[other], index, count, paths[index]) != root
    # every proof is as short as the odd-node rule allows
    assert len(paths[index]) <= max(1, (count - 1).bit_length())


@settings(max_examples=80, derandomize=True, deadline=None)
@given(st.binary(max_size=2000) | st.sampled_from([bytes(1184), b"{}", b'{"report": 1}', b"\xa0"]))
def test_verify_file_never_raises(tmp_path_factory: object, data: bytes) -> None:
    path = Path(str(tmp_path_factory.mktemp("f"))) / "x"  # type: ignore[attr-defined]
    path.write_bytes(data)
    out = verify_file(path)
    assert out["valid"] is False
    assert out["error"]
