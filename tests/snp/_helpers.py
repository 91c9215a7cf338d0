"""Helpers for the SNP device tests: a node on 127.0.0.1 port 0 with both SNP devices loaded."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from devices.core import RsaWallet
from node._config import load_config
from node._server import Running, run_node
from tests.node._client import Response, request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 6, 1, tzinfo=UTC)
"""Inside the validity of the vector VCEKs (V1: 2023-2030, V2: 2024-2031)."""
DEVICES = ["message@1.0", "meta@1.0", "snp@1.0", "snp-sim@1.0"]
JSON_IN_OUT: list[tuple[str, str | bytes]] = [("codec-device", "json@1.0"), ("accept-codec", "json@1.0")]


@contextlib.asynccontextmanager
async def snp_node(
    tmp_path: Path,
    wallet_jwk: dict[str, str],
    overrides: Mapping[str, Any] | None = None,
    services: Mapping[str, Any] | None = None,
    *,
    name: str = "data",
) -> AsyncIterator[Running]:
    """A node whose SNP interfaces point into ``tmp_path`` (so none exists unless a test makes it)
    and whose certificate clock is ``NOW``."""
    data_dir = tmp_path / name
    data_dir.mkdir(exist_ok=True)
    wallet_file = data_dir / "wallet.json"
    if not wallet_file.exists():
        RsaWallet.from_jwk(dict(wallet_jwk)).save(wallet_file)
    config = load_config(
        ROOT / "configs" / "test.toml",
        {
            "data_dir": str(data_dir),
            "devices": DEVICES,
            "snp.configfs_path": str(tmp_path / "no-configfs"),
            "snp.sev_guest_path": str(tmp_path / "no-sev-guest"),
            **(overrides or {}),
        },
    )
    given = {"snp-clock": lambda: NOW, **(services or {})}
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(
            lambda task_status: run_node(config, services=given, task_status=task_status)
        )
        yield running
        nursery.cancel_scope.cancel()


async def get_json(port: int, path: str) -> Response:
    return await request(port, "GET", path, headers=[("accept-codec", "json@1.0")])


async def post_evidence(port: int, device: str, evidence: Mapping[str, Any]) -> Response:
    """POST ``evidence`` as the ``body`` of a JSON request to ``/~device/verify``."""
    body = json.dumps({"body": dict(evidence)}).encode()
    return await request(port, "POST", f"/~{device}/verify", headers=JSON_IN_OUT, body=body)
