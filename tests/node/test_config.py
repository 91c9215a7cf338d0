"""Configuration loading: TOML/JSON, overrides, strictness, the public allow-list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node._config import NodeConfig, load_config
from node._errors import ConfigError


def test_defaults() -> None:
    c = load_config()
    assert isinstance(c, NodeConfig)
    assert (c.http.host, c.http.port) == ("127.0.0.1", 8734)
    assert c.wallet_file == Path(".hyperpeer") / "wallet.json"
    assert c.store_dir == Path(".hyperpeer") / "store"
    assert c.devices == ("message@1.0", "meta@1.0")


def test_json_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"http": {"port": 9000}, "trust": {"attesters": ["a", "b"], "k": 2},
                             "p2p": {"bootstrap": ["/ip4/127.0.0.1/tcp/1"]}}))
    c = load_config(f, {"http.port": 0, "limits.max-body-bytes": "10", "trust.require_hardware": "true"})
    assert c.http.port == 0
    assert c.limits.max_body_bytes == 10
    assert c.trust.attesters == ("a", "b")
    assert c.trust.k == 2
    assert c.trust.require_hardware
    assert c.p2p.bootstrap == ("/ip4/127.0.0.1/tcp/1",)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("nonsense = 1", "unknown config key 'nonsense'"),
        ("[http]\nportt = 1", "unknown config key 'http.portt'"),
        ("[http]\nport = 'x'", "expected int"),
        ("[http]\nport = 70000", "out of range"),
        ("http = 5", "expected a table"),
        ("bad_signatures = 'maybe'", "bad_signatures"),
        ("devices = [1, 2]", "expected tuple"),
        ("[http\n", "cannot read config"),
    ],
)
def test_bad_configs(tmp_path: Path, text: str, fragment: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")):
        load_config(f)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config("/nonexistent/config.toml")


def test_public_hides_paths() -> None:
    pub = load_config(None, {"wallet_path": "/secret/w.json", "store.path": "/secret/s"}).public()
    assert "wallet_path" not in pub
    assert "data_dir" not in pub
    assert "path" not in pub["store"]
    assert "/secret" not in json.dumps(pub)
