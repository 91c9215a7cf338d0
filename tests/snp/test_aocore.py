"""Result attestations as AO-Core messages: the same facts as the CBOR form, and ``hyperpeer verify``."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from attest import (
    EvidenceMalformed,
    SimulatedChain,
    SimulatedSnpProvider,
    Statement,
    attestation_message,
    encode_evidence,
    sign_attestation,
    statement_from_message,
    verify_attestation,
    verify_attestation_message,
)
from devices.core import (
    Message,
    RsaWallet,
    commit,
    httpsig_decode,
    httpsig_encode,
    json_decode,
    json_encode,
    verify,
)
from node._verify import verify_path
from tests.snp._helpers import ROOT

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def wallet(wallet_jwk: dict[str, str]) -> RsaWallet:
    return RsaWallet.from_jwk(dict(wallet_jwk))


def _statement(wallet: RsaWallet, *, evidence: str | None = "e" * 43) -> Statement:
    return Statement(
        process="P" * 43,
        slot=7,
        result="R" * 43,
        hashpath="H" * 43 + "/" + "Q" * 43,
        device_stack=("wasm-64@1.0", "stack@1.0", "process@1.0"),
        attester=wallet.address,
        evidence=evidence,
    )


def _http_dump(msg: Message, *, bundle: bool = False) -> bytes:
    parts = httpsig_encode(msg, bundle=bundle)
    head = "".join(f"{k}: {v}\r\n" for k, v in parts.headers)
    return b"HTTP/1.1 200 OK\r\n" + head.encode() + b"\r\n" + parts.body


@pytest.mark.parametrize("evidence", ["e" * 43, None])
def test_both_forms_verify_to_the_same_facts(wallet: RsaWallet, evidence: str | None) -> None:
    statement = _statement(wallet, evidence=evidence)
    cbor = verify_attestation(sign_attestation(statement, wallet))
    msg = attestation_message(statement, wallet)
    forms = [msg, json_decode(json_encode(msg))]
    for bundle in (False, True):
        parts = httpsig_encode(msg, bundle=bundle)
        forms.append(httpsig_decode(list(parts.headers), parts.body))
    assert cbor.valid
    for form in forms:
        report = verify_attestation_message(form)
        assert report.valid, report.error
        assert report.facts == cbor.facts == statement.facts()
        assert report.committers == cbor.committers == (wallet.address,)
        assert report.attester == cbor.attester
        assert statement_from_message(form) == statement
    assert verify(msg).valid  # any AO-Core verifier: an ordinary httpsig commitment
    commitments = msg.get_message("commitments")
    assert commitments is not None
    tags = [c.get("tag") for c in commitments.values() if isinstance(c, Message) and c.get("committer")]
    assert tags == [statement.hashpath.encode()]


CHANGES: list[tuple[str, Any]] = [
    ("process", b"X" * 43),
    ("slot", 8),
    ("result", b"X" * 43),
    ("hashpath", b"X" * 43 + b"/" + b"Q" * 43),
    ("device-stack", b"wasm-64@1.0,stack@1.0"),
    ("attester", b"X" * 43),
    ("evidence", b"X" * 43),
    ("type", b"attestation/2"),
]


@pytest.mark.parametrize(("key", "value"), CHANGES)
def test_changing_any_fact_breaks_verification(wallet: RsaWallet, key: str, value: Any) -> None:
    msg = attestation_message(_statement(wallet), wallet)
    changed = msg.set(key, value)
    if key == "type":
        with pytest.raises(EvidenceMalformed):
            verify_attestation_message(changed)
        assert not verify(changed).valid
        return
    report = verify_attestation_message(changed)
    assert report.valid is False
    assert report.check == "signature"
    assert report.committers == ()


def test_facts_outside_the_commitment_or_by_someone_else(
    wallet: RsaWallet, other_jwk: dict[str, str]
) -> None:
    bare = attestation_message(_statement(wallet, evidence=None), wallet)
    added = bare.set("evidence", b"E" * 43)  # an uncommitted fact does not count
    report = verify_attestation_message(added)
    assert report.check == "committed"
    other = RsaWallet.from_jwk(dict(other_jwk))
    plain = Message({k: v for k, v in bare.items() if k != "commitments"})
    by_other = verify_attestation_message(commit(plain, other))
    assert by_other.valid is False
    assert by_other.check == "attester"
    unsigned = verify_attestation_message(plain)
    assert unsigned.check == "attester"


def test_malformed_messages(wallet: RsaWallet) -> None:
    msg = attestation_message(_statement(wallet), wallet)
    for broken in (msg.without("slot"), msg.set("slot", b"seven"), msg.set("process", 5), Message()):
        with pytest.raises(EvidenceMalformed):
            statement_from_message(broken)
    with pytest.raises(ValueError, match="comma"):
        attestation_message(Statement("p", 1, "r", "h", ("a,b",), wallet.address), wallet)
    with pytest.raises(ValueError, match="attester"):
        attestation_message(Statement("p", 1, "r", "h", ("a",), "someone"), wallet)


def test_verify_path_reports_the_cbor_facts(tmp_path: Path, wallet: RsaWallet) -> None:
    statement = _statement(wallet)
    msg = attestation_message(statement, wallet)
    (tmp_path / "att.cbor").write_bytes(sign_attestation(statement, wallet))
    (tmp_path / "att.json").write_bytes(json_encode(msg))
    (tmp_path / "att.http").write_bytes(_http_dump(msg))
    (tmp_path / "bad.json").write_bytes(json_encode(msg.set("slot", 9)))
    cbor = verify_path(tmp_path / "att.cbor")
    for name, encoding in (("att.json", "json"), ("att.http", "httpsig")):
        out = verify_path(tmp_path / name)
        assert out["kind"] == "aocore-attestation", out
        assert out["encoding"] == encoding
        assert out["valid"] is True, out
        assert out["facts"] == cbor["facts"]
        assert out["committers"] == cbor["committers"] == [wallet.address]
    bad = verify_path(tmp_path / "bad.json")
    assert bad["valid"] is False
    assert bad["check"] == "signature"


def test_hyperpeer_verify_cli(tmp_path: Path, wallet: RsaWallet, sim_chain: SimulatedChain) -> None:
    """The real command: one JSON line per file (an AO-Core attestation and simulated evidence)."""
    statement = _statement(wallet)
    dump = tmp_path / "attestation.http"
    dump.write_bytes(_http_dump(attestation_message(statement, wallet)))
    evidence = SimulatedSnpProvider(sim_chain).get_report(bytes(range(64)))
    sim_file = tmp_path / "sim-evidence.cbor"
    sim_file.write_bytes(encode_evidence(evidence))
    run = subprocess.run(
        [sys.executable, "-m", "node.cli", "verify", str(dump), str(sim_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stderr  # the simulated evidence is not valid hardware evidence
    att, sim = (json.loads(line) for line in run.stdout.strip().splitlines())
    assert att["kind"] == "aocore-attestation"
    assert att["valid"] is True
    assert att["facts"] == statement.facts()
    assert att["committers"] == [wallet.address]
    assert sim["kind"] == "snp-evidence"
    assert sim["valid"] is False
    assert sim["hardware"] is False
    assert sim["check"] == "chain"  # the simulated root is not a pinned AMD root
    assert sim["chip_id"] == sim_chain.chip_id.hex()
    assert sim["report_data"] == bytes(range(64)).hex()
