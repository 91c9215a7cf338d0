"""Node configuration: one frozen dataclass tree, loaded from TOML (``tomllib``) or JSON.

Sources, later wins: the built-in defaults below, the file (``--config`` or ``HYPERPEER_CONFIG``),
then command-line overrides given as dotted names (``{"http.port": 0}``). Unknown sections or keys
are errors, so a typo never silently falls back to a default. Units are in the names (``*_s``,
``*_bytes``). ``public()`` is the allow-list of what ``~meta@1.0/info`` may show (spec §11 D6).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node._errors import ConfigError

DEFAULT_DEVICES = ("message@1.0", "meta@1.0")


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8734  # 0 = an ephemeral port, reported when bound
    graceful_timeout_s: float = 5.0
    default_req: str = "/~meta@1.0/info"  # where a bare GET / is redirected
    sign_responses: bool = True  # commit every reply with the node wallet (once the codecs can)
    read_timeout_s: float = 60.0  # a connection idle this long while a request is incomplete is closed


@dataclass(frozen=True)
class LimitsConfig:
    max_header_bytes: int = 65536
    max_body_bytes: int = 64 * 1024 * 1024
    max_path_bytes: int = 16384
    max_segment_bytes: int = 512
    max_segments: int = 64
    max_subpath_depth: int = 4
    max_resolve_depth: int = 64  # steps, nested resolutions included


@dataclass(frozen=True)
class StoreConfig:
    path: str = ""  # empty: <data_dir>/store
    map_size_bytes: int = 8 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class P2PConfig:
    listen: tuple[str, ...] = ()
    bootstrap: tuple[str, ...] = ()


@dataclass(frozen=True)
class GatewayConfig:
    # Gateways (Arweave gateways or other hyperpeer nodes) asked for ids not in the local store.
    # Empty: never fetch from outside.
    urls: tuple[str, ...] = ()
    attempts: int = 3
    timeout_s: float = 30.0
    serve: bool = True  # serve the gateway API (/raw, /graphql, /tx, /info)


@dataclass(frozen=True)
class TrustConfig:
    attesters: tuple[str, ...] = ()
    k: int = 1
    require_hardware: bool = False


@dataclass(frozen=True)
class SnpConfig:
    """``snp@1.0`` / ``snp-sim@1.0`` (see ``devices/snp.py``)."""

    provider: str = "auto"  # auto | configfs | ioctl | simulated (simulated: only snp-sim@1.0)
    configfs_path: str = "/sys/kernel/config/tsm/report"
    sev_guest_path: str = "/dev/sev-guest"
    vmpl: int = 1  # the VMPL reports are requested at (HyperBEAM: 1)
    verify_vmpl: int = 1  # the VMPL verified reports must carry; -1 = any
    trusted_measurements: tuple[str, ...] = ()  # 96-hex launch digests; empty = not checked
    min_tcb: str = ""  # "bootloader.tee.snp.microcode", e.g. "3.0.8.115"; empty = no minimum
    local_hashes: tuple[str, ...] = ()  # this VM's launch parameters as "key=value"
    cache_dir: str = ""  # VCEKs and ARK/ASK bundles; empty: <data_dir>/snp
    kds_base_url: str = "https://kdsintf.amd.com"
    kds_fetch: bool = False  # fetch missing certificates from the KDS (production only)


@dataclass(frozen=True)
class WasmConfig:
    """WASM execution (``wasm-64@1.0``, ``json-iface@1.0``/``genesis-wasm@1.0``)."""

    cache_dir: str = ""  # prepared + compiled modules; empty: <data_dir>/wasm-cache
    fuel: int = 20_000_000_000  # per guest call (one message); an aos Eval needs ~5-10 million
    memory_bytes: int = 1 << 30  # linear-memory cap per process
    threads: int = 2  # guest calls running at once (worker threads; never on the event loop)
    snapshot_every: int = 16  # process states stored with a full memory snapshot every N slots


@dataclass(frozen=True)
class NodeConfig:
    data_dir: str = ".hyperpeer"
    wallet_path: str = ""  # empty: <data_dir>/wallet.json (generated on first start, mode 0600)
    operator: str = ""  # empty: the node's own address
    devices: tuple[str, ...] = DEFAULT_DEVICES
    # What to do with a request commitment that does not verify: "reject" (400) or "strip"
    # (drop the commitments and continue as an unsigned request), spec §11 D1.
    bad_signatures: str = "reject"
    http: HttpConfig = field(default_factory=HttpConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    p2p: P2PConfig = field(default_factory=P2PConfig)
    trust: TrustConfig = field(default_factory=TrustConfig)
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    snp: SnpConfig = field(default_factory=SnpConfig)
    wasm: WasmConfig = field(default_factory=WasmConfig)

    @property
    def wasm_cache_dir(self) -> Path:
        return Path(self.wasm.cache_dir) if self.wasm.cache_dir else Path(self.data_dir) / "wasm-cache"

    @property
    def processes_dir(self) -> Path:
        """The scheduler's assignment log and the process state cache (one LMDB environment)."""
        return Path(self.data_dir) / "processes"

    @property
    def wallet_file(self) -> Path:
        return Path(self.wallet_path) if self.wallet_path else Path(self.data_dir) / "wallet.json"

    @property
    def store_dir(self) -> Path:
        return Path(self.store.path) if self.store.path else Path(self.data_dir) / "store"

    def public(self) -> dict[str, Any]:
        """The non-secret effective configuration (paths to key material are left out)."""
        out: dict[str, Any] = _to_plain(self)
        out.pop("wallet_path", None)
        out.pop("data_dir", None)
        out["store"].pop("path", None)
        out["wasm"].pop("cache_dir", None)
        return out


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    return obj


def _coerce(cls: type[Any], data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'config'}: expected a table, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in fields:
            raise ConfigError(f"unknown config key {where + key!r}")
        default = getattr(cls(), name)
        kwargs[name] = _coerce_value(default, value, where + key)
    return cls(**kwargs)


def _coerce_value(default: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(default):
        return _coerce(type(default), value, where + ".")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, tuple):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
    raise ConfigError(f"config key {where!r}: expected {type(default).__name__}, got {value!r}")


def _nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in overrides.items():
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> NodeConfig:
    """Defaults, then the TOML/JSON file at ``path``, then dotted ``overrides``.

    Raises:
        ConfigError: unreadable file, bad syntax, unknown keys or wrongly typed values.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text("utf-8")
            data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read config {p}: {exc}") from exc
    data = _merge(data, _nest(overrides or {}))
    config: NodeConfig = _coerce(NodeConfig, data, "")
    if config.bad_signatures not in ("reject", "strip"):
        raise ConfigError("bad_signatures must be 'reject' or 'strip'")
    if config.snp.provider not in ("auto", "configfs", "ioctl", "simulated"):
        raise ConfigError("snp.provider must be 'auto', 'configfs', 'ioctl' or 'simulated'")
    if not 0 <= config.http.port <= 65535:
        raise ConfigError(f"http.port out of range: {config.http.port}")
    w = config.wasm
    if w.fuel < 1 or w.memory_bytes < 65536 or w.threads < 1 or w.snapshot_every < 1:
        raise ConfigError("wasm: fuel, threads and snapshot_every must be positive, memory_bytes >= 65536")
    return config
