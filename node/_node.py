"""The node object: configuration, wallet, store, device registry and resolver wired together.

``Node.open(config)`` creates the data directory, loads or generates the wallet (mode 0600),
opens the store and loads the configured devices from the built-in table (no discovery, no code
from messages). ``Node.handle(singleton)`` parses a request singleton and resolves it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, final

from devices import attestation, message, meta, snp, snp_sim
from devices._registry import Registry
from devices.core import Message, RsaWallet, freeze
from node._errors import ConfigError
from node._exec import EXEC_DEVICE_NAMES, Execution, exec_device
from node._hyperpath import PathLimits, parse
from node._resolve import Outcome, Resolver
from node._serial import decode_message, encode_message
from node._store import Index, LmdbStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from devices._base import Device, PublishFn
    from node._config import NodeConfig

log = logging.getLogger(__name__)

BUILTIN_DEVICES: Mapping[str, Callable[[], Device]] = {
    "message@1.0": lambda: message.DEVICE,
    "meta@1.0": lambda: meta.DEVICE,
    "snp@1.0": lambda: snp.DEVICE,
    "snp-sim@1.0": lambda: snp_sim.DEVICE,
    "attest@1.0": lambda: attestation.DEVICE,
    **{name: exec_device(name) for name in sorted(EXEC_DEVICE_NAMES)},
}


@final
class NodeState:
    """The node message (what ``~meta@1.0/info`` shows) and its operator-made updates.

    It is the ``"node"`` service devices reach through ``Context.service("node")``.
    """

    def __init__(self, base: Message, history: Index | None = None) -> None:
        self._message = base
        self._count = 0
        self._index = history
        if history is not None:  # replay the operator's earlier updates, oldest first
            for _, blob in history.scan():
                self._apply(decode_message(blob))

    def message(self) -> Message:
        return self._message

    def annotate(self, facts: Message) -> None:
        """Merge facts the node learns as it starts (e.g. its peer id); not counted as an update."""
        self._message = self._message.update(facts)

    def _apply(self, changes: Message) -> None:
        self._count += 1
        self._message = self._message.update(changes).set("history-length", self._count)

    def update(self, changes: Message) -> int:
        """Merge ``changes`` into the node message (durably, when the state has a history index);
        returns the number of updates so far."""
        if self._index is not None:
            self._index.put(f"{self._count + 1:012d}", encode_message(changes))
        self._apply(changes)
        return self._count


def node_message(config: NodeConfig, wallet: RsaWallet, devices: Iterable[str]) -> Message:
    """The allow-listed node message: address, operator, devices and non-secret configuration."""
    public = config.public()
    public["operator"] = config.operator or wallet.address
    public["devices"] = sorted(devices)
    return Message({"address": wallet.address, "node": "hyperpeer", "version": meta.VERSION,
                    **{k: freeze(v) for k, v in public.items()}})


@final
class Node:
    """A running node's state (no I/O tasks of its own; ``node._server.run_node`` serves it)."""

    def __init__(self, config: NodeConfig, wallet: RsaWallet, store: LmdbStore, registry: Registry,
                 *, publish: PublishFn | None = None, services: Mapping[str, Any] | None = None,
                 execution: Execution | None = None) -> None:
        self.config = config
        self.execution = execution
        self.wallet = wallet
        self.store = store
        self.registry = registry
        self.state = NodeState(node_message(config, wallet, registry), store.index("node-history"))
        # One dict shared with the resolver, so services added after start-up are seen by devices.
        self.services: dict[str, Any] = {"node": self.state, "data-dir": config.data_dir,
                                         **(services or {})}
        self.limits = PathLimits(
            max_segment_bytes=config.limits.max_segment_bytes, max_segments=config.limits.max_segments,
            max_depth=config.limits.max_subpath_depth, max_path_bytes=config.limits.max_path_bytes,
        )
        self.resolver = Resolver(
            registry=registry, store=store, wallet=wallet, node_message=self.state.message,
            max_depth=config.limits.max_resolve_depth, publish=publish,
            services=self.services,
        )

    @classmethod
    def open(cls, config: NodeConfig, *, extra_devices: Iterable[Device] = (),
             publish: PublishFn | None = None, services: Mapping[str, Any] | None = None,
             wallet: RsaWallet | None = None) -> Node:
        """Create the data directory, load or create the wallet (unless one is given), open the
        store, load devices.

        Raises:
            ConfigError: an unknown device name or an unusable wallet.
            StoreError: the store cannot be opened.
        """
        from devices.core import KeyMaterialError

        extra = {d.id: d for d in extra_devices}
        wanted = dict.fromkeys(("message@1.0", *config.devices))
        unknown = [n for n in wanted if n not in BUILTIN_DEVICES and n not in extra]
        if unknown:
            raise ConfigError(f"unknown devices in config: {', '.join(unknown)}")
        registry = Registry(extra[n] if n in extra else BUILTIN_DEVICES[n]() for n in wanted)
        for name, device in extra.items():
            if name not in registry:
                registry.add(device)
        if wallet is None:
            try:
                wallet = RsaWallet.load_or_create(config.wallet_file)
            except KeyMaterialError as exc:
                raise ConfigError(f"wallet {config.wallet_file}: {exc.reason}") from exc
        store = LmdbStore(config.store_dir, map_size_bytes=config.store.map_size_bytes)
        execution = None
        if EXEC_DEVICE_NAMES & set(registry) and "scheduler" not in (services or {}):
            try:
                execution = Execution.open(config, wallet)  # scheduler, process cache, wasm
            except BaseException:
                store.close()
                raise
            services = {**execution.services, **(services or {})}
        log.info("node %s: %d devices, store %s", wallet.address, len(list(registry)), config.store_dir)
        return cls(config, wallet, store, registry, publish=publish, services=services, execution=execution)

    def add_service(self, name: str, service: Any) -> None:
        """Offer ``service`` to devices as ``ctx.service(name)`` (before serving requests)."""
        self.services[name] = service

    def close(self) -> None:
        self.store.close()
        if self.execution is not None:
            self.execution.close()

    async def handle(self, singleton: Message) -> Outcome:
        """Parse and resolve one request singleton.

        Raises:
            PathError: the path is malformed (400).
            DeviceError: resolution failed, with its status.
        """
        return await self.resolver.resolve_request(parse(singleton, self.limits))
