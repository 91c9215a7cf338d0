"""The ``[snp]`` configuration section: loading, validation, and an unusable value at request time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from node._config import load_config
from node._errors import ConfigError
from tests.snp._helpers import ROOT, post_evidence, snp_node

if TYPE_CHECKING:
    from pathlib import Path


def test_dev_config_enables_both_devices() -> None:
    config = load_config(ROOT / "configs" / "dev.toml")
    assert {"snp@1.0", "snp-sim@1.0"} <= set(config.devices)
    assert config.snp.provider == "auto"
    assert config.snp.kds_fetch is False
    assert config.public()["snp"]["verify_vmpl"] == 1


def test_provider_is_validated() -> None:
    for good in ("auto", "configfs", "ioctl", "simulated"):
        assert load_config(None, {"snp.provider": good}).snp.provider == good
    with pytest.raises(ConfigError, match=r"snp\.provider"):
        load_config(None, {"snp.provider": "amd"})
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config(None, {"snp.allow_simulated": True})


@pytest.mark.parametrize(
    ("key", "value"),
    [("snp.min_tcb", "3.0.x.1"), ("snp.min_tcb", "1.2"), ("snp.trusted_measurements", ["ab"])],
)
async def test_unusable_policy_is_an_internal_error(
    tmp_path: Path, wallet_jwk: dict[str, str], key: str, value: object
) -> None:
    async with snp_node(tmp_path, wallet_jwk, {key: value}) as running:
        resp = await post_evidence(running.port, "snp@1.0", {"report": "{}"})
    assert resp.status == 500
    assert "[snp]" in resp.json()["error"]
