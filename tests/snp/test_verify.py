"""``snp@1.0/verify`` and ``snp-sim@1.0/verify`` through the HTTP server, on the real vectors."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from attest import (
    SimulatedChain,
    SimulatedSnpProvider,
    SnpReport,
    load_certificates,
    report_data_binding,
)
from devices.core import RsaWallet, b64u_encode, commit, json_decode, json_encode, message_id
from tests.conftest import vector_path
from tests.node._client import request
from tests.snp._helpers import JSON_IN_OUT, get_json, post_evidence, snp_node

if TYPE_CHECKING:
    from pathlib import Path

ANY_VMPL = {"snp.verify_vmpl": -1}


def snp(*parts: str) -> Path:
    path: Path = vector_path("sev-snp", *parts)
    return path


def expected(name: str) -> dict[str, Any]:
    vectors: dict[str, Any] = json.loads(snp("expected.json").read_text())["vectors"]
    return dict(vectors[name])


def _der(path: Path) -> str:
    (cert,) = load_certificates(path.read_bytes())
    return b64u_encode(cert.public_bytes(Encoding.DER))


def v1_report() -> SnpReport:
    return SnpReport.from_bytes(bytes.fromhex(snp("virtee-report_milan.hex").read_text().strip()))


def v2_json() -> str:
    return snp("hb-os-benign-report.json").read_text()


def milan_chain() -> dict[str, str]:
    return {"ark": _der(snp("virtee-ark-milan.pem")), "ask": _der(snp("virtee-ask-milan.pem"))}


def v1_evidence(**extra: Any) -> dict[str, Any]:
    certs = {**milan_chain(), "vcek": _der(snp("virtee-vcek_milan.der"))}
    return {"report": v1_report().to_json(), "certs": certs, **extra}


def v2_evidence(**extra: Any) -> dict[str, Any]:
    certs = {**milan_chain(), "vcek": _der(snp("hb-os-vcek.crt"))}
    return {"report": v2_json(), "certs": certs, **extra}


async def test_v1_and_v2_verify_as_hardware(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    async with snp_node(tmp_path, wallet_jwk, ANY_VMPL) as running:
        answers = [
            (await post_evidence(running.port, "snp@1.0", v1_evidence()), expected("V1")),
            (await post_evidence(running.port, "snp@1.0", v2_evidence()), expected("V2")),
        ]
    for resp, facts in answers:
        assert resp.status == 200, resp.body
        out = resp.json()
        assert out["valid"] is True
        assert out["hardware"] is True
        assert out["trust"] == "amd-hardware"
        assert out["product"] == "Milan"
        assert out["measurement"] == facts["measurement_hex"]
        assert out["report-data"] == facts["report_data_hex"]
        assert out["chip-id"] == facts["chip_id_hex"]
        assert out["report-data-checked"] is False


async def test_expected_report_data(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    right = expected("V1")["report_data_hex"]
    async with snp_node(tmp_path, wallet_jwk, ANY_VMPL) as running:
        good = await post_evidence(running.port, "snp@1.0", v1_evidence(**{"report-data": right}))
        bad = await post_evidence(running.port, "snp@1.0", v1_evidence(**{"report-data": "00" * 64}))
    assert good.status == 200
    assert good.json()["report-data-checked"] is True
    assert bad.status == 403
    assert bad.json()["valid"] is False
    assert bad.json()["check"] == "report_data"


async def test_vcek_from_the_key_server_then_the_cache(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    asked: list[str] = []
    offline = False

    def fetch(url: str) -> bytes:
        asked.append(url)
        if offline:
            raise OSError("network unreachable (test)")
        if url.endswith("/vcek/v1/Milan/cert_chain"):
            return vector_path("hyperbeam-test-data", "amd-vcek-v1-Milan-cert_chain.pem").read_bytes()
        return snp("hb-os-vcek.crt").read_bytes()

    overrides = {"snp.kds_fetch": True, "snp.kds_base_url": "https://kds.test"}
    async with snp_node(tmp_path, wallet_jwk, overrides, {"snp-fetch": fetch}) as running:
        first = await post_evidence(running.port, "snp@1.0", {"report": v2_json()})
        offline = True
        second = await post_evidence(running.port, "snp@1.0", {"report": v2_json()})
    assert first.status == 200, first.body
    assert first.json()["hardware"] is True
    chip = expected("V2")["chip_id_hex"]
    tcb = expected("V2")["reported_tcb"]
    assert asked[0] == "https://kds.test/vcek/v1/Milan/cert_chain"
    assert asked[1] == (
        f"https://kds.test/vcek/v1/Milan/{chip}?blSPL={tcb['bootloader']:02d}&teeSPL={tcb['tee']:02d}"
        f"&snpSPL={tcb['snp']:02d}&ucodeSPL={tcb['microcode']:02d}"
    )
    assert len(asked) == 2  # the second verify was answered from <data_dir>/snp
    assert second.status == 200, second.body
    assert second.json()["hardware"] is True


async def test_raw_report_body_with_the_cache_dir(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    cache = tmp_path / "data" / "snp"
    cache.mkdir(parents=True)
    for name in ("virtee-ark-milan.pem", "virtee-ask-milan.pem", "virtee-vcek_milan.der"):
        shutil.copy(snp(name), cache / name)
    async with snp_node(tmp_path, wallet_jwk, ANY_VMPL) as running:
        resp = await request(
            running.port,
            "POST",
            "/~snp@1.0/verify",
            headers=[("accept-codec", "json@1.0")],
            body=v1_report().raw,
        )
    assert resp.status == 200, resp.body
    assert resp.json()["hardware"] is True
    assert resp.json()["chip-id"] == expected("V1")["chip_id_hex"]


async def test_no_vcek_and_malformed(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    async with snp_node(tmp_path, wallet_jwk) as running:
        missing = await post_evidence(running.port, "snp@1.0", {"report": v2_json()})
        junk = await post_evidence(running.port, "snp@1.0", {"report": "{not json"})
        none = await post_evidence(running.port, "snp@1.0", {"nonce": "x"})
    assert missing.status == 503
    assert missing.json()["check"] == "vcek"
    assert junk.status == 400
    assert none.status == 400
    assert "no report" in none.json()["error"]


def _flip(text: str, field: str) -> str:
    obj = json.loads(text)
    obj[field][0] ^= 1
    return json.dumps(obj)


def _bad_ask() -> str:
    (ask,) = load_certificates(snp("virtee-ask-milan.pem").read_bytes())
    der = bytearray(ask.public_bytes(Encoding.DER))
    der[-10] ^= 1  # inside the signature
    return b64u_encode(bytes(der))


@pytest.mark.parametrize(
    ("change", "overrides", "check"),
    [
        (lambda e: e.update(report=_flip(e["report"], "measurement")), {}, "signature"),
        (lambda e: e.update(report=_flip(e["report"], "report_data")), {}, "signature"),
        (lambda e: e["certs"].update(ask=_bad_ask()), {}, "chain"),
        (lambda e: e["certs"].update(vcek=_der(snp("virtee-vcek_milan.der"))), {}, "chip_id"),
        (lambda e: None, {"snp.min_tcb": "3.0.21.209"}, "tcb"),
        (lambda e: None, {"snp.trusted_measurements": ["00" * 48]}, "measurement"),
        (lambda e: None, {"snp.verify_vmpl": 0}, "vmpl"),
    ],
)
async def test_tampered_or_refused_names_the_check(
    tmp_path: Path, wallet_jwk: dict[str, str], change: Any, overrides: dict[str, Any], check: str
) -> None:
    evidence = v2_evidence()
    change(evidence)
    async with snp_node(tmp_path, wallet_jwk, overrides) as running:
        resp = await post_evidence(running.port, "snp@1.0", evidence)
    assert resp.status == 403, resp.body
    assert resp.json()["valid"] is False
    assert resp.json()["check"] == check


async def test_trusted_measurement_and_min_tcb_pass(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    overrides = {"snp.min_tcb": "3.0.20.209", "snp.trusted_measurements": [expected("V2")["measurement_hex"]]}
    async with snp_node(tmp_path, wallet_jwk, overrides) as running:
        resp = await post_evidence(running.port, "snp@1.0", v2_evidence())
    assert resp.status == 200, resp.body
    assert resp.json()["hardware"] is True


async def test_a_genuine_report_with_another_nodes_nonce(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    """A real report replayed as this node's evidence: the message nonce is well-formed, but
    REPORT_DATA is not it (HyperBEAM accepted this)."""
    async with snp_node(tmp_path, wallet_jwk) as running:
        node = running.node
        node_id = message_id(node.state.message(), "none")
        nonce = report_data_binding(node.wallet.address, node_id)
        bound = {"nonce": b64u_encode(nonce), "address": node.wallet.address, "node-message-id": node_id}
        replay = v2_evidence(**bound)
        resp = await post_evidence(running.port, "snp@1.0", replay)
        v5 = vector_path("hyperbeam-test-data", "admissible-report-eterm.json")
        admissible = json.loads(v5.read_text())
        unbound = {k: admissible[k] for k in ("report", "nonce", "address")}
        resp5 = await post_evidence(running.port, "snp@1.0", unbound)
    for answer in (resp, resp5):
        assert answer.status == 403, answer.body
        assert answer.json()["check"] == "report_data"


# -- simulated evidence -------------------------------------------------------------------------


async def _sim_evidence(running: Any) -> dict[str, Any]:
    resp = await get_json(running.port, "/~snp-sim@1.0/generate")
    assert resp.status == 200, resp.body
    evidence: dict[str, Any] = resp.json()
    return evidence


async def test_simulated_generate_and_verify(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    async with snp_node(tmp_path, wallet_jwk, {"snp.provider": "simulated"}) as running:
        evidence = await _sim_evidence(running)
        own = await post_evidence(running.port, "snp-sim@1.0", evidence)
        hard = await post_evidence(running.port, "snp@1.0", evidence)
    assert own.status == 200, own.body
    out = own.json()
    assert out["valid"] is True
    assert out["hardware"] is False
    assert out["trust"] == "simulated"
    assert out["report-data-checked"] is True
    assert hard.status == 403
    assert hard.json()["check"] == "hardware"
    assert hard.json()["hardware"] is False


async def test_simulated_evidence_from_another_node(
    tmp_path: Path, wallet_jwk: dict[str, str], other_jwk: dict[str, str]
) -> None:
    """Node A's simulated evidence checks on node B (its chain travels with it), but presenting it
    as B's (B's address or B's node message) breaks the binding."""
    sim = {"snp.provider": "simulated"}
    async with snp_node(tmp_path, wallet_jwk, sim) as a, snp_node(tmp_path, other_jwk, name="b") as b:
        evidence = await _sim_evidence(a)
        as_is = await post_evidence(b.port, "snp-sim@1.0", evidence)
        unsigned = {k: v for k, v in evidence.items() if k != "commitments"}
        b_message = json.loads(json_encode(b.node.state.message()))
        swaps = [
            {**unsigned, "address": b.node.wallet.address},
            {**unsigned, "node-message": b_message},
        ]
        swapped = [await post_evidence(b.port, "snp-sim@1.0", s) for s in swaps]
        forged = await post_evidence(b.port, "snp-sim@1.0", {**evidence, "address": b.node.wallet.address})
    assert as_is.status == 200, as_is.body
    assert as_is.json()["hardware"] is False
    for resp in swapped:
        assert resp.status == 403, resp.body
        assert resp.json()["check"] == "report_data"
    assert forged.status == 403
    assert forged.json()["check"] == "signature"


async def test_signed_by_someone_else(
    tmp_path: Path, wallet_jwk: dict[str, str], other_jwk: dict[str, str]
) -> None:
    async with snp_node(tmp_path, wallet_jwk, {"snp.provider": "simulated"}) as running:
        evidence = await _sim_evidence(running)
        msg = json_decode(json.dumps(evidence).encode()).without("commitments")
        resigned = json.loads(json_encode(commit(msg, RsaWallet.from_jwk(dict(other_jwk)))))
        resp = await post_evidence(running.port, "snp-sim@1.0", resigned)
    assert resp.status == 403
    assert resp.json()["check"] == "address"


async def test_require_hardware_rejects_simulated(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    overrides = {"snp.provider": "simulated", "trust.require_hardware": True}
    async with snp_node(tmp_path, wallet_jwk, overrides) as running:
        evidence = await _sim_evidence(running)
        resp = await post_evidence(running.port, "snp-sim@1.0", evidence)
    assert resp.status == 403
    assert resp.json()["valid"] is False
    assert resp.json()["check"] == "hardware"


async def test_simulated_policy_checks_still_apply(
    tmp_path: Path, wallet_jwk: dict[str, str], sim_chain: SimulatedChain
) -> None:
    """A debug-enabled simulated guest is refused by name, like a hardware one would be."""
    async with snp_node(tmp_path, wallet_jwk) as running:
        node_id = message_id(running.node.state.message(), "none")
        binding = report_data_binding(running.node.wallet.address, node_id)
        raw = SimulatedSnpProvider(sim_chain, policy=0x30000 | (1 << 19)).get_report(binding).raw
        certs = {k: b64u_encode(v) for k, v in sim_chain.certs().items()}
        evidence = {
            "report": SnpReport.from_bytes(raw).to_json(),
            "nonce": b64u_encode(binding),
            "address": running.node.wallet.address,
            "node-message-id": node_id,
            "snp-mode": "simulated",
            "certs": certs,
        }
        resp = await post_evidence(running.port, "snp-sim@1.0", evidence)
    assert resp.status == 403, resp.body
    assert resp.json()["check"] == "debug"


async def test_simulated_launch_measurement(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    """With ``[snp] local_hashes`` the simulated MEASUREMENT is their launch digest (vector V6), the
    message carries them, and trusted-measurement policy applies as on hardware."""
    cases = json.loads(snp("launch-digest-vectors.json").read_text())["cases"]
    v6 = next(c for c in cases if c["vector"] == "V6")
    local = [f"{k}={v}" for k, v in v6["inputs"].items()]
    digest = v6["expected_measurement_hex"]
    overrides = {"snp.provider": "simulated", "snp.local_hashes": local, "snp.trusted_measurements": [digest]}
    async with snp_node(tmp_path, wallet_jwk, overrides) as running:
        evidence = await _sim_evidence(running)
        good = await post_evidence(running.port, "snp-sim@1.0", evidence)
    other = {"snp.trusted_measurements": ["11" * 48]}
    async with snp_node(tmp_path, wallet_jwk, other, name="strict") as strict:
        refused = await post_evidence(strict.port, "snp-sim@1.0", evidence)
    assert evidence["local-hashes"]["vcpus"] == v6["inputs"]["vcpus"]
    assert good.status == 200, good.body
    assert good.json()["measurement"] == digest
    assert good.json()["hardware"] is False
    assert refused.status == 403
    assert refused.json()["check"] == "measurement"


async def test_certificates_are_checked_at_the_node_clock(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    later = datetime(2035, 1, 1, tzinfo=UTC)  # after the V2 VCEK's notAfter
    async with snp_node(tmp_path, wallet_jwk, services={"snp-clock": lambda: later}) as running:
        resp = await post_evidence(running.port, "snp@1.0", v2_evidence())
    assert resp.status == 403, resp.body
    assert resp.json()["check"] == "validity"


async def test_signed_evidence_posted_as_the_request(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    """HyperBEAM's form: the signed evidence message is the request itself (the edge verifies it)."""
    async with snp_node(tmp_path, wallet_jwk, {"snp.provider": "simulated"}) as running:
        evidence = await _sim_evidence(running)
        resp = await request(
            running.port,
            "POST",
            "/~snp-sim@1.0/verify",
            headers=JSON_IN_OUT,
            body=json.dumps(evidence).encode(),
        )
        evidence["nonce"] = b64u_encode(bytes(64))
        tampered = await request(
            running.port,
            "POST",
            "/~snp-sim@1.0/verify",
            headers=JSON_IN_OUT,
            body=json.dumps(evidence).encode(),
        )
    assert resp.status == 200, resp.body
    assert resp.json()["valid"] is True
    assert resp.json()["hardware"] is False
    assert tampered.status == 400  # the edge refuses a request whose commitment does not verify
