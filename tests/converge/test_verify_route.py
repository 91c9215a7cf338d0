"""``POST /~attest@1.0/verify``: a JSON report on an attestation body, judged by the node's trust policy."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import cbor2
import trio

from attest import encode_batched_attestation, sign_attestation, sign_batch
from node._config import load_config
from node._server import Running, run_node
from p2p import decode_envelope, encode_envelope
from tests.converge.test_security import batch_envelope, compact_envelope, forged, statement
from tests.node._client import request

if TYPE_CHECKING:
    from devices.core import RsaWallet

ROOT = Path(__file__).resolve().parents[2]
JSON: list[tuple[str, str | bytes]] = [
    ("accept", "application/json"),
    ("content-type", "application/octet-stream"),
]


async def test_verify_route(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    config = load_config(
        ROOT / "configs" / "test.toml",
        {
            "data_dir": str(tmp_path),
            "devices": "message@1.0,meta@1.0,attest@1.0",
            "trust.attesters": wallets[0].address,
        },
    )
    header, proofs = sign_batch([statement(wallets[0].address, 3)], wallets[0])
    bundle = encode_batched_attestation(statement(wallets[0].address, 3), proofs[0], header)
    single = sign_attestation(statement(wallets[1].address, 4), wallets[1])
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(partial(run_node, config))

        async def verify(body: bytes) -> dict[str, object]:
            reply = await request(running.port, "POST", "/~attest@1.0/verify", headers=JSON, body=body)
            assert reply.status == 200, reply.body
            report: dict[str, object] = reply.json()
            return report

        report = await verify(bundle)
        assert report["valid"] is True
        assert report["count"] == 1
        first = report["statements"]["1"]  # type: ignore[index]
        assert first["slot"] == 3
        assert first["trusted"] is True
        assert first["hardware"] is False
        report = await verify(single)
        assert report["valid"] is True
        assert report["statements"]["1"]["trusted"] is False  # type: ignore[index]
        report = await verify(batch_envelope([statement(wallets[0].address, 5)], wallets[0]))
        assert report["kind"] == "gossip-envelope"
        compact = compact_envelope([statement(wallets[0].address, n) for n in range(40)], wallets[0])
        deflated = encode_envelope(decode_envelope(compact), compress=True)  # as peers gossip it
        assert len(deflated) < len(compact)
        report = await verify(deflated)
        assert (report["valid"], report["kind"], report["count"]) == (True, "gossip-envelope", 40)
        outer = cbor2.loads(deflated)
        damaged = {**outer, "body": outer["body"][:-8] + bytes(8)}  # the zlib stream's tail and checksum
        report = await verify(cbor2.dumps(damaged, canonical=True))
        assert report["valid"] is False
        assert "zlib stream" in str(report["error"])
        for bad in (forged(wallets[0], wallets[1], 1), b"garbage", bundle[:-3]):
            report = await verify(bad)
            assert report["valid"] is False
            assert report["error"]
        empty = await request(running.port, "POST", "/~attest@1.0/verify", headers=JSON)
        assert empty.status == 400
        status = await request(running.port, "GET", "/~attest@1.0/status", headers=JSON[:1])
        assert status.status == 200, status.body
        assert status.json()["peering"] == "off"  # this node runs no p2p
        nursery.cancel_scope.cancel()
