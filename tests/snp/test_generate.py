"""``snp@1.0/generate`` and ``snp-sim@1.0/generate`` through the HTTP server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from attest import (
    ConfigfsTsmProvider,
    SimulatedChain,
    SimulatedSnpProvider,
    SnpReport,
    build_cert_table,
    report_data_binding,
)
from devices.core import b64u_decode, json_decode, message_id, verify
from tests.snp._helpers import get_json, snp_node

if TYPE_CHECKING:
    from node._server import Running

DEFAULT_CONFIGFS = "/sys/kernel/config/tsm/report"
ON_SNP = Path(DEFAULT_CONFIGFS).is_dir() or Path("/dev/sev-guest").exists()


def _node_binding(running: Running) -> bytes:
    node = running.node
    return report_data_binding(node.wallet.address, message_id(node.state.message(), "none"))


async def test_generate_without_snp_names_the_missing_interfaces(
    tmp_path: Path, wallet_jwk: dict[str, str]
) -> None:
    async with snp_node(tmp_path, wallet_jwk) as running:
        resp = await get_json(running.port, "/~snp@1.0/generate")
    assert resp.status == 503
    error = resp.json()["error"]
    assert "no configfs-tsm at" in error
    assert f"no {tmp_path / 'no-sev-guest'}" in error


@pytest.mark.skipif(ON_SNP, reason="an SEV-SNP guest: generate would really run")
async def test_generate_on_this_machine_default_paths(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    """With the real default paths: this machine has no SEV-SNP, so 503 naming both interfaces."""
    overrides = {"snp.configfs_path": DEFAULT_CONFIGFS, "snp.sev_guest_path": "/dev/sev-guest"}
    async with snp_node(tmp_path, wallet_jwk, overrides) as running:
        resp = await get_json(running.port, "/~snp@1.0/generate")
    assert resp.status == 503
    assert "/sys/kernel/config/tsm/report" in resp.json()["error"]
    assert "/dev/sev-guest" in resp.json()["error"]


async def test_generate_each_provider_names_only_its_interface(
    tmp_path: Path, wallet_jwk: dict[str, str]
) -> None:
    async with snp_node(tmp_path, wallet_jwk, {"snp.provider": "ioctl"}) as running:
        resp = await get_json(running.port, "/~snp@1.0/generate")
    assert resp.status == 503
    assert "sev-guest" in resp.json()["error"]
    assert "configfs" not in resp.json()["error"]


async def test_hardware_device_never_simulates(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    async with snp_node(tmp_path, wallet_jwk, {"snp.provider": "simulated"}) as running:
        resp = await get_json(running.port, "/~snp@1.0/generate")
    assert resp.status == 503
    assert "snp-sim@1.0" in resp.json()["error"]


async def test_simulation_is_opt_in(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    async with snp_node(tmp_path, wallet_jwk) as running:
        resp = await get_json(running.port, "/~snp-sim@1.0/generate")
    assert resp.status == 503
    assert 'provider = "simulated"' in resp.json()["error"]


async def test_generate_through_a_fake_configfs_tree(
    tmp_path: Path, wallet_jwk: dict[str, str], sim_chain: SimulatedChain
) -> None:
    tree = tmp_path / "tsm"
    tree.mkdir()
    answer: dict[str, bytes] = {}

    def mkdir(path: Path) -> None:  # what the kernel does when an entry is made
        os.mkdir(path)
        (path / "provider").write_text("sev_guest\n")
        (path / "generation").write_text("1\n")
        (path / "outblob").write_bytes(answer["raw"])
        (path / "auxblob").write_bytes(build_cert_table(sim_chain.certs()))

    provider = ConfigfsTsmProvider(tree, mkdir=mkdir)
    async with snp_node(tmp_path, wallet_jwk, services={"snp-provider": provider}) as running:
        binding = _node_binding(running)
        answer["raw"] = SimulatedSnpProvider(sim_chain).get_report(binding).raw
        resp = await get_json(running.port, "/~snp@1.0/generate")
        assert resp.status == 200, resp.body
        msg = json_decode(resp.body)
        address = running.node.wallet.address
    report = SnpReport.from_json(msg.get_text("report") or "")
    assert report.report_data == binding
    assert report.report_data[:32] == b64u_decode(address)
    assert b64u_decode(msg.get_text("nonce") or "") == binding
    assert msg.get_text("address") == address
    node_msg = msg.get_message("node-message")
    assert node_msg is not None
    assert message_id(node_msg, "none") == msg.get_text("node-message-id")
    assert report.report_data[32:] == b64u_decode(msg.get_text("node-message-id") or "")
    assert msg.get_text("device") == "snp@1.0"
    assert "snp-mode" not in msg
    assert (msg.get_text("vcek-url") or "").startswith("https://kdsintf.amd.com/vcek/v1/Milan/")
    certs = msg.get_message("certs")
    assert certs is not None
    assert set(certs) == {"ark", "ask", "vcek"}
    checked = verify(msg)
    assert checked.valid
    assert checked.committers == [address]
    (entry,) = tree.iterdir()  # the fake kernel's files keep os.rmdir from removing it
    assert (entry / "inblob").read_bytes() == binding
    assert (entry / "privlevel").read_text() == "1"


async def test_generate_with_a_broken_configfs_tree(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    tree = tmp_path / "tsm"
    tree.mkdir()  # exists, but nothing answers inside it
    overrides = {"snp.provider": "configfs", "snp.configfs_path": str(tree)}
    async with snp_node(tmp_path, wallet_jwk, overrides) as running:
        resp = await get_json(running.port, "/~snp@1.0/generate")
    assert resp.status == 500
    assert "configfs-tsm" in resp.json()["error"]


async def test_simulated_generate_is_marked(
    tmp_path: Path, wallet_jwk: dict[str, str], sim_chain: SimulatedChain
) -> None:
    overrides = {"snp.provider": "simulated"}
    async with snp_node(tmp_path, wallet_jwk, overrides, {"snp-sim-chain": sim_chain}) as running:
        resp = await get_json(running.port, "/~snp-sim@1.0/generate")
        binding = _node_binding(running)
    assert resp.status == 200, resp.body
    msg = json_decode(resp.body)
    assert msg.get_text("device") == "snp-sim@1.0"
    assert msg.get_text("snp-mode") == "simulated"
    report = SnpReport.from_json(msg.get_text("report") or "")
    assert report.report_data == binding
    assert report.chip_id == sim_chain.chip_id
    assert verify(msg).valid
