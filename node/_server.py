"""Running a node: the store and the HTTP server inside one nursery, with graceful shutdown."""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast, final

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from devices.core import Message
from node._errors import ConfigError
from node._http import HttpApp
from node._node import Node
from node.peering import Peering, ResultsSlot, TrustPolicy
from p2p import P2PError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping

    from devices._base import Device
    from devices.core import RsaWallet
    from devices.core.ans104 import DataItem
    from node._config import NodeConfig
    from p2p import P2P

if TYPE_CHECKING:
    # trio-typing's stubs (installed with libp2p) shadow trio's own annotations for mypy and do
    # not know ``trio.TaskStatus``; they export the same generic.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)


@final
@dataclass(frozen=True)
class Running:
    """What ``run_node`` reports when it is ready."""

    node: Node
    url: str
    port: int
    peering: Peering | None = None  # set when the node runs with peers ([p2p] listen, or ``p2p=``)

    @property
    def peer_id(self) -> str | None:
        return None if self.peering is None else self.peering.p2p.peer_id

    @property
    def p2p_addrs(self) -> list[str]:
        return [] if self.peering is None else self.peering.p2p.listen_addrs


def _hypercorn_config(config: NodeConfig) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [f"{config.http.host}:{config.http.port}"]
    hc.graceful_timeout = config.http.graceful_timeout_s
    hc.h11_max_incomplete_size = config.limits.max_header_bytes + 16384
    hc.h2_max_header_list_size = config.limits.max_header_bytes + 16384
    hc.read_timeout = int(config.http.read_timeout_s)
    hc.include_server_header = False
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.keep_alive_timeout = 30
    return hc


def _compose_app(node: Node, websocket: Any = None) -> Any:
    """The node's ASGI app, with the gateway API in front of it when ``gateway.serve`` is on:
    items uploaded through either door are indexed for GraphQL and served by ``/raw/{id}``, and
    ids missing locally are fetched from ``gateway.urls`` (verified, then cached)."""
    from devices.gateway import GatewayApp, ItemIndex, record_from_item
    from node._remote import RemoteLoader

    index = ItemIndex(node.store.env) if node.config.gateway.serve else None

    def on_item(item: DataItem, raw: bytes) -> None:  # stored items join the gateway index
        if index is not None and item.id not in index:
            index.add(record_from_item(item, raw_size=len(raw)))

    loader = RemoteLoader.from_config(node.config.gateway, node.store, on_item)
    if loader is not None:
        node.add_service("remote-loader", loader)
    if index is None:
        return HttpApp(node, websocket=websocket)

    store = node.store
    http = HttpApp(node, on_item=on_item, websocket=websocket)
    gateway = GatewayApp(
        index,
        read_raw=store.read_raw,
        store_raw=lambda ident, raw: store.write_upload(raw, _item_message(raw), [ident]),
        fallback=http,
    )
    return _Negotiate(gateway, http)


def _item_message(raw: bytes) -> Message | None:
    """The message form of an item the gateway has already verified (``POST /tx`` and the members
    of an uploaded bundle), so that ``GET /{id}`` with AO-Core negotiation (scheduler-utils'
    ``getProcess`` asks ``?require-codec=application/json``, HyperBEAM peers ``accept-codec``)
    answers it as HyperBEAM does; None when the item has no message form (only its bytes are kept)."""
    from devices.core import CoreError, item_to_message
    from devices.core.ans104 import DataItem

    try:
        return item_to_message(DataItem.parse(raw, max_size=len(raw)))
    except CoreError as exc:
        log.info("uploaded item kept as bytes only (no message form): %s", exc)
        return None


_AO_NEGOTIATION = (b"accept-codec", b"require-codec", b"accept-bundle", b"codec-device")


@final
class _Negotiate:
    """``GET /{id}`` means two things: a gateway answers the item's *data* (arweave-js, AO tools),
    HyperBEAM the *message*. A request that negotiates like an AO-Core client (``accept-codec``,
    ``require-codec``, ``accept-bundle``, ``codec-device``, or ``accept: application/ans104``)
    gets the message; every other request the gateway's answer."""

    def __init__(self, gateway: Any, http: HttpApp) -> None:
        self._gateway = gateway
        self._http = http

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self._wants_message(scope.get("headers", ())):
            await self._http(scope, receive, send)
        else:
            await self._gateway(scope, receive, send)

    @staticmethod
    def _wants_message(headers: Iterable[tuple[bytes, bytes]]) -> bool:
        for name, value in headers:
            low = name.lower()
            if low in _AO_NEGOTIATION or (low == b"accept" and b"application/ans104" in value.lower()):
                return True
        return False


async def wait_for_signals() -> None:
    """Return on the first SIGINT or SIGTERM (a hypercorn ``shutdown_trigger``)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("received %s, shutting down", signal.Signals(signum).name)
            return


async def run_node(
    config: NodeConfig,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    extra_devices: Iterable[Device] = (),
    services: Mapping[str, Any] | None = None,
    wallet: RsaWallet | None = None,
    p2p: P2P | None = None,
    task_status: TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Open the node (data dir, wallet, store, devices) and serve HTTP until shut down.

    ``wallet`` overrides the configured wallet file (tests, several peers in one process).
    Reports a ``Running`` (with the bound port, useful with ``http.port = 0``) through
    ``task_status.started`` once the listener accepts connections.

    Cancellation/shutdown: when ``shutdown_trigger`` returns (default: never; the CLI passes
    ``wait_for_signals``) the listener closes, in-flight requests get ``http.graceful_timeout_s``
    to finish, then the store is flushed and closed. Cancelling the caller's scope stops at once;
    the store is still closed.

    With ``[p2p] listen`` set (or a ``p2p`` backend given, e.g. a ``MemoryNode`` in tests) the node
    also runs ``Peering`` — attestation gossip and the ``results`` service (``node.peering``) — in
    the same nursery; it stops after the HTTP server has drained.

    Raises:
        ConfigError: unusable configuration (unknown device, bad wallet, p2p cannot start).
        StoreError: the store cannot be opened.
        OSError: the address cannot be bound.
    """
    results = ResultsSlot(TrustPolicy.from_config(config.trust))
    node = Node.open(
        config,
        extra_devices=extra_devices,
        services={"results": results, "peer-loader": results, **(services or {})},
        wallet=wallet,
    )
    try:
        from node._live import Subscriptions
        from node._peer_client import PeerClient

        if "peer" not in node.services:  # push@1.0 / scheduler@1.0 reach other schedulers with it
            peer = PeerClient(node.wallet, sources=config.gateway.urls, timeout_s=config.gateway.timeout_s)
            node.add_service("peer", peer)
            node.add_service("scheduler-locator", peer.locate)

        subs = Subscriptions.for_node(node)
        app: Any = cast("Any", _compose_app(node, subs.handler))
        hc = _hypercorn_config(config)
        trigger = shutdown_trigger or trio.sleep_forever

        async def stop_trigger() -> None:
            await trigger()
            subs.hub.close("node shutting down")  # every subscriber gets a closed frame

        async with trio.open_nursery() as nursery:
            if node.execution is not None:
                await nursery.start(node.execution.run)  # the scheduler's writer task
            await nursery.start(subs.live.run)  # event pump and eager compute
            peering = await _start_peering(nursery, node, config, p2p)
            results.bind(peering)
            if peering is not None:  # gossiped attestations reach websocket subscribers
                peering.add_listener(subs.live.on_attestations)
                subs.live.agreed = _agreed_elsewhere(peering, node.services.get("process-cache"))

            async def serve_then_stop(task_status: TaskStatus[list[str]]) -> None:
                await serve(app, hc, shutdown_trigger=stop_trigger, task_status=task_status)
                nursery.cancel_scope.cancel()  # HTTP has drained: stop the background tasks too

            binds: list[str] = await nursery.start(serve_then_stop)
            url = binds[0]
            port = int(url.rsplit(":", 1)[1])
            log.info("listening on %s", url)
            task_status.started(Running(node=node, url=url, port=port, peering=peering))
    finally:
        results.bind(None)
        node.close()


def _agreed_elsewhere(peering: Peering, cache: Any) -> Callable[[str, int], bool]:
    """For ``LiveEvents.agreed``: trusted peers agree on (process, slot), and it was not computed here
    (its result is not in the process cache), so serving it means answering from attestations."""

    def agreed(process: str, slot: int) -> bool:
        if cache is not None and cache.results(process, slot) is not None:
            return False
        return peering.agreed(process, slot)

    return agreed


async def _start_peering(
    nursery: trio.Nursery, node: Node, config: NodeConfig, p2p: P2P | None
) -> Peering | None:
    if p2p is None and not config.p2p.listen:
        return None
    try:
        if p2p is None:
            from p2p import Libp2pNode

            p2p = Libp2pNode(
                data_dir=config.data_dir, listen=config.p2p.listen, bootstrap=config.p2p.bootstrap
            )
        peering = Peering(p2p, node.store, node.wallet, TrustPolicy.from_config(config.trust))
        await nursery.start(peering.run)
    except (P2PError, ValueError) as exc:
        raise ConfigError(f"cannot start p2p: {exc}") from exc
    node.state.annotate(
        Message({"peer-id": p2p.peer_id.encode(), "p2p-addrs": tuple(a.encode() for a in p2p.listen_addrs)})
    )
    log.info("p2p peer %s on %s", p2p.peer_id, ", ".join(p2p.listen_addrs))
    return peering
